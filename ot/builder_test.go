package ot

import (
	"encoding/json"
	"strings"
	"testing"
)

// Canonical is quill's push applied op by op, then chop.
func TestCanonical(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", `[]`, `[]`},
		{"text merges", `[{"insert":"a"},{"insert":"b"}]`, `[{"insert":"ab"}]`},
		{"text with same formats merges", `[{"insert":"a","attributes":{"bold":true}},{"insert":"😀","attributes":{"bold":true}}]`, `[{"insert":"a😀","attributes":{"bold":true}}]`},
		{"text with other formats stays", `[{"insert":"a","attributes":{"bold":true}},{"insert":"b"}]`, `[{"insert":"a","attributes":{"bold":true}},{"insert":"b"}]`},
		{"null differs from absent", `[{"retain":1,"attributes":{"bold":null}},{"retain":1}]`, `[{"retain":1,"attributes":{"bold":null}}]`},
		{"embeds never merge", `[{"insert":{"image":"x"}},{"insert":{"image":"x"}},{"insert":"a"}]`, `[{"insert":{"image":"x"}},{"insert":{"image":"x"}},{"insert":"a"}]`},
		{"deletes merge", `[{"delete":1},{"delete":2}]`, `[{"delete":3}]`},
		{"retains merge and chop", `[{"retain":1},{"retain":2}]`, `[]`},
		{"formatted retains merge", `[{"retain":1,"attributes":{"bold":true}},{"retain":2,"attributes":{"bold":true}}]`, `[{"retain":3,"attributes":{"bold":true}}]`},
		{"insert goes before delete", `[{"delete":1},{"insert":"x"}]`, `[{"insert":"x"},{"delete":1}]`},
		{"embed goes before delete", `[{"retain":2},{"delete":1},{"insert":{"image":"x"}}]`, `[{"retain":2},{"insert":{"image":"x"}},{"delete":1}]`},
		{"insert before delete merges", `[{"insert":"a"},{"delete":1},{"insert":"b"}]`, `[{"insert":"ab"},{"delete":1}]`},
		{"insert before delete after retain", `[{"retain":1},{"delete":1},{"insert":"b"},{"delete":2}]`, `[{"retain":1},{"insert":"b"},{"delete":3}]`},
		{"only one trailing retain chopped", `[{"insert":"a"},{"retain":2,"attributes":{"bold":true}},{"retain":2}]`, `[{"insert":"a"},{"retain":2,"attributes":{"bold":true}}]`},
		{"retain then delete kept", `[{"retain":2},{"delete":1}]`, `[{"retain":2},{"delete":1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := js(t, Canonical(mustDelta(t, tt.in))); got != tt.want {
				t.Errorf("Canonical(%s)\n got  %s\n want %s", tt.in, got, tt.want)
			}
		})
	}
}

// Ops built in Go can be empty or carry an empty map; Canonical drops them.
func TestCanonicalDropsEmpty(t *testing.T) {
	in := Delta{InsertText("", nil), Retain(0, nil), Delete(0), InsertText("a", Attributes{}), InsertText("b", nil), Retain(2, Attributes{})}
	if got := js(t, Canonical(in)); got != `[{"insert":"ab"}]` {
		t.Fatalf("Canonical = %s", got)
	}
}

// Merging many text runs grows one buffer instead of copying the run each
// time; the result must still be every piece in order.
func TestCanonicalLongMerges(t *testing.T) {
	var in Delta
	var want strings.Builder
	for i := range 2000 {
		s := strings.Repeat(string(rune('a'+i%26)), 1+i%300)
		in = append(in, InsertText(s, nil))
		want.WriteString(s)
		if i%500 == 0 {
			in = append(in, Delete(1)) // an insert after it still merges before it
		}
	}
	got := Canonical(in)
	if len(got) != 2 || got[0].Insert != want.String() || got[1].Delete != 4 {
		t.Fatalf("Canonical: %d ops, text %d bytes (want %d)", len(got), len(got[0].Insert), want.Len())
	}
}

func TestMeasures(t *testing.T) {
	d := mustDelta(t, `[{"insert":"a😀"},{"insert":{"image":"x"}},{"retain":4,"attributes":{"bold":true}},{"delete":3},{"retain":2}]`)
	if got := d.Length(); got != 3+1+4+3+2 {
		t.Errorf("Length = %d", got)
	}
	if got := d.BaseLen(); got != 4+3+2 {
		t.Errorf("BaseLen = %d", got)
	}
	if got := d.ChangeLength(); got != 4-3 {
		t.Errorf("ChangeLength = %d", got)
	}
	if d.IsDocument() || !mustDelta(t, `[{"insert":"a"},{"insert":{"image":"x"}}]`).IsDocument() {
		t.Errorf("IsDocument wrong")
	}
	if got := mustDelta(t, `[{"insert":"a😀"},{"insert":{"image":"x"}},{"insert":"b\n","attributes":{"bold":true}}]`).Text(); got != "a😀b\n" {
		t.Errorf("Text = %q", got)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`[]`, `[]`, true},
		{`[{"insert":"ab"}]`, `[{"insert":"a"},{"insert":"b"}]`, false},
		{`[{"insert":"a","attributes":{"bold":true,"size":12}}]`, `[{"insert":"a","attributes":{"size":12,"bold":true}}]`, true},
		{`[{"insert":"a","attributes":{"size":12}}]`, `[{"insert":"a","attributes":{"size":"12"}}]`, false},
		{`[{"retain":1,"attributes":{"bold":null}}]`, `[{"retain":1}]`, false},
		{`[{"insert":{"x":{"a":1,"b":[2]}}}]`, `[{"insert":{"x":{ "b":[2.0], "a":1e0}}}]`, true},
		{`[{"insert":{"x":"é"}}]`, `[{"insert":{"x":"\u00e9"}}]`, true},
		{`[{"insert":{"x":1}}]`, `[{"insert":{"y":1}}]`, false},
		{`[{"insert":{"x":1}}]`, `[{"insert":"x"}]`, false},
		{`[{"delete":1}]`, `[{"retain":1}]`, false},
	}
	for _, tt := range tests {
		if got := Equal(mustDelta(t, tt.a), mustDelta(t, tt.b)); got != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	// Formats built in Go may hold other number types.
	if !Equal(Delta{Retain(1, Attributes{"h": 1})}, Delta{Retain(1, Attributes{"h": 1.0})}) {
		t.Errorf("int 1 != float64 1")
	}
	if Equal(Delta{Retain(1, Attributes{"h": map[string]any{}})}, Delta{Retain(1, Attributes{"h": []any{}})}) {
		t.Errorf("map == slice")
	}
	if !Equal(Delta{InsertEmbed("x", json.RawMessage(`{"a":1}`), nil)}, Delta{InsertEmbed("x", json.RawMessage(`{ "a" : 1 }`), nil)}) {
		t.Errorf("embed values with spaces differ")
	}
}
