package ot

import (
	"encoding/json"
	"testing"
)

// TransformPosition against each kind of op before, at and after the
// position. Expectations are quill-delta 5.1.0's transformPosition.
func TestTransformPosition(t *testing.T) {
	tests := []struct {
		name, a                         string
		index, wantPriority, wantNoPrio int
	}{
		{"insert before position", `[{"insert":"A"}]`, 2, 3, 3},
		{"insert after position", `[{"retain":2},{"insert":"A"}]`, 1, 1, 1},
		{"insert at position", `[{"retain":2},{"insert":"A"}]`, 2, 2, 3},
		{"delete before position", `[{"delete":2}]`, 4, 2, 2},
		{"delete after position", `[{"retain":4},{"delete":2}]`, 2, 2, 2},
		{"delete across position", `[{"retain":1},{"delete":4}]`, 2, 1, 1},
		{"insert and delete before position", `[{"retain":2},{"insert":"A"},{"delete":2}]`, 4, 3, 3},
		{"insert before and delete across position", `[{"retain":2},{"insert":"A"},{"delete":4}]`, 4, 3, 3},
		{"delete before and delete across position", `[{"delete":1},{"retain":1},{"delete":4}]`, 4, 1, 1},
		{"astral insert at position", `[{"retain":2},{"insert":"😀"}]`, 2, 2, 4},
		{"embed insert at 0", `[{"insert":{"image":"a.png"}}]`, 0, 0, 1},
		{"delete at position", `[{"retain":2},{"delete":3}]`, 2, 2, 2},
		{"insert at end", `[{"retain":5},{"insert":"xy"}]`, 5, 5, 7},
		{"position past end", `[{"retain":1},{"insert":"xy"}]`, 9, 11, 11},
		{"empty", `[]`, 3, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDelta(t, tt.a)
			if got := TransformPosition(a, tt.index, true); got != tt.wantPriority {
				t.Errorf("TransformPosition(%s, %d, true) = %d, want %d", tt.a, tt.index, got, tt.wantPriority)
			}
			if got := TransformPosition(a, tt.index, false); got != tt.wantNoPrio {
				t.Errorf("TransformPosition(%s, %d, false) = %d, want %d", tt.a, tt.index, got, tt.wantNoPrio)
			}
		})
	}
}

// TransformRange moves both ends as a remote cursor moves (protocol:
// presence follows text): text typed at the start goes before the
// selection, text typed at its end goes inside it.
func TestTransformRange(t *testing.T) {
	tests := []struct {
		name, a string
		r, want Range
	}{
		{"insert before", `[{"insert":"ab"}]`, Range{3, 2}, Range{5, 2}},
		{"insert after", `[{"retain":6},{"insert":"ab"}]`, Range{3, 2}, Range{3, 2}},
		{"insert at start", `[{"retain":3},{"insert":"ab"}]`, Range{3, 2}, Range{5, 2}},
		{"insert inside", `[{"retain":4},{"insert":"ab"}]`, Range{3, 2}, Range{3, 4}},
		{"insert at end", `[{"retain":5},{"insert":"ab"}]`, Range{3, 2}, Range{3, 4}},
		{"cursor pushed", `[{"retain":3},{"insert":"😀"}]`, Range{3, 0}, Range{5, 0}},
		{"delete before", `[{"delete":2}]`, Range{3, 2}, Range{1, 2}},
		{"delete overlapping start", `[{"retain":2},{"delete":2}]`, Range{3, 2}, Range{2, 1}},
		{"delete all of it", `[{"retain":1},{"delete":8}]`, Range{3, 2}, Range{1, 0}},
		{"delete inside", `[{"retain":3},{"delete":1}]`, Range{3, 2}, Range{3, 1}},
		{"format", `[{"retain":4,"attributes":{"bold":true}}]`, Range{3, 2}, Range{3, 2}},
		{"embed at start", `[{"retain":3},{"insert":{"image":"x"}}]`, Range{3, 2}, Range{4, 2}},
		{"empty edit", `[]`, Range{3, 2}, Range{3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TransformRange(mustDelta(t, tt.a), tt.r); got != tt.want {
				t.Errorf("TransformRange(%s, %+v) = %+v, want %+v", tt.a, tt.r, got, tt.want)
			}
		})
	}
}

func TestRangeJSON(t *testing.T) {
	b, err := json.Marshal(Range{Index: 3, Length: 2})
	if err != nil || string(b) != `{"index":3,"length":2}` {
		t.Fatalf("json.Marshal(Range) = %s, %v", b, err)
	}
	var r Range
	if err := json.Unmarshal([]byte(`{"index":7,"length":0}`), &r); err != nil || r != (Range{7, 0}) {
		t.Fatalf("json.Unmarshal = %+v, %v", r, err)
	}
}
