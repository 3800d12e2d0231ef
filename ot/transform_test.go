package ot

import "testing"

// Transform, one case per pair of component kinds, with both priorities.
// Expectations are quill-delta 5.1.0's a.transform(b, true/false).
func TestTransform(t *testing.T) {
	tests := []struct{ name, a, b, wantPriority, wantNoPriority string }{
		{"insert+insert", `[{"insert":"A"}]`, `[{"insert":"B"}]`, `[{"retain":1},{"insert":"B"}]`, `[{"insert":"B"}]`},
		{"insert+retain", `[{"insert":"A"}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red"}}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":true,"color":"red"}}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":true,"color":"red"}}]`},
		{"insert+delete", `[{"insert":"A"}]`, `[{"delete":1}]`, `[{"retain":1},{"delete":1}]`, `[{"retain":1},{"delete":1}]`},
		{"delete+insert", `[{"delete":1}]`, `[{"insert":"B"}]`, `[{"insert":"B"}]`, `[{"insert":"B"}]`},
		{"delete+retain", `[{"delete":1}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red"}}]`, `[]`, `[]`},
		{"delete+delete", `[{"delete":1}]`, `[{"delete":1}]`, `[]`, `[]`},
		{"retain+insert", `[{"retain":1,"attributes":{"color":"blue"}}]`, `[{"insert":"B"}]`, `[{"insert":"B"}]`, `[{"insert":"B"}]`},
		{"retain+retain", `[{"retain":1,"attributes":{"color":"blue"}}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red"}}]`, `[{"retain":1,"attributes":{"bold":true}}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red"}}]`},
		{"retain+retain reversed", `[{"retain":1,"attributes":{"bold":true,"color":"red"}}]`, `[{"retain":1,"attributes":{"color":"blue"}}]`, `[]`, `[{"retain":1,"attributes":{"color":"blue"}}]`},
		{"retain+retain null", `[{"retain":2,"attributes":{"bold":null}}]`, `[{"retain":2,"attributes":{"bold":true,"italic":null}}]`, `[{"retain":2,"attributes":{"italic":null}}]`, `[{"retain":2,"attributes":{"bold":true,"italic":null}}]`},
		{"retain+delete", `[{"retain":1,"attributes":{"color":"blue"}}]`, `[{"delete":1}]`, `[{"delete":1}]`, `[{"delete":1}]`},
		{"embed+embed", `[{"insert":{"image":"a.png"}}]`, `[{"insert":{"video":"v"},"attributes":{"bold":true}}]`, `[{"retain":1},{"insert":{"video":"v"},"attributes":{"bold":true}}]`, `[{"insert":{"video":"v"},"attributes":{"bold":true}}]`},
		{"embed+retain", `[{"insert":{"image":"a.png"}}]`, `[{"retain":1,"attributes":{"bold":true}}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":true}}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":true}}]`},
		{"retain+embed", `[{"retain":1,"attributes":{"bold":true}}]`, `[{"retain":1},{"insert":{"image":"a.png"}}]`, `[{"retain":1},{"insert":{"image":"a.png"}}]`, `[{"retain":1},{"insert":{"image":"a.png"}}]`},
		{"delete+embed", `[{"delete":1}]`, `[{"insert":{"image":"a.png"}}]`, `[{"insert":{"image":"a.png"}}]`, `[{"insert":{"image":"a.png"}}]`},
		{"astral insert+insert", `[{"insert":"😀"}]`, `[{"insert":"x😀"}]`, `[{"retain":2},{"insert":"x😀"}]`, `[{"insert":"x😀"}]`},
		{"astral insert+delete", `[{"retain":1},{"insert":"😀"}]`, `[{"retain":1},{"delete":2}]`, `[{"retain":3},{"delete":2}]`, `[{"retain":3},{"delete":2}]`},
		{"astral delete+delete overlap", `[{"delete":4}]`, `[{"retain":2},{"delete":4}]`, `[{"delete":2}]`, `[{"delete":2}]`},
		{"astral retain+insert after pair", `[{"retain":2,"attributes":{"bold":true}}]`, `[{"retain":2},{"insert":"😀"}]`, `[{"retain":2},{"insert":"😀"}]`, `[{"retain":2},{"insert":"😀"}]`},
		{"alternating edits", `[{"retain":2},{"insert":"si"},{"delete":5}]`, `[{"retain":1},{"insert":"e"},{"delete":5},{"retain":1},{"insert":"ow"}]`, `[{"retain":1},{"insert":"e"},{"delete":1},{"retain":2},{"insert":"ow"}]`, `[{"retain":1},{"insert":"e"},{"delete":1},{"retain":2},{"insert":"ow"}]`},
		{"conflicting appends", `[{"retain":3},{"insert":"aa"}]`, `[{"retain":3},{"insert":"bb"}]`, `[{"retain":5},{"insert":"bb"}]`, `[{"retain":3},{"insert":"bb"}]`},
		{"prepend + append", `[{"insert":"aa"}]`, `[{"retain":3},{"insert":"bb"}]`, `[{"retain":5},{"insert":"bb"}]`, `[{"retain":5},{"insert":"bb"}]`},
		{"trailing deletes with differing lengths", `[{"retain":2},{"delete":1}]`, `[{"delete":3}]`, `[{"delete":2}]`, `[{"delete":2}]`},
		{"empty + edit", `[]`, `[{"retain":2},{"insert":"x"}]`, `[{"retain":2},{"insert":"x"}]`, `[{"retain":2},{"insert":"x"}]`},
		{"edit + empty", `[{"retain":2},{"insert":"x"}]`, `[]`, `[]`, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustDelta(t, tt.a), mustDelta(t, tt.b)
			if got := js(t, Transform(a, b, true)); got != tt.wantPriority {
				t.Errorf("Transform(%s, %s, true)\n got  %s\n want %s", tt.a, tt.b, got, tt.wantPriority)
			}
			if got := js(t, Transform(a, b, false)); got != tt.wantNoPriority {
				t.Errorf("Transform(%s, %s, false)\n got  %s\n want %s", tt.a, tt.b, got, tt.wantNoPriority)
			}
			if js(t, a) != js(t, mustDelta(t, tt.a)) || js(t, b) != js(t, mustDelta(t, tt.b)) {
				t.Errorf("Transform modified its input")
			}
		})
	}
}
