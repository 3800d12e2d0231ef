package ot

import "testing"

// Invert, for every kind of op in the edit against text, formatted text,
// embeds and astral characters in the base, including edits reaching past
// the base. Expectations are quill-delta 5.1.0's edit.invert(base); where
// the edit fits, composing base, edit and the inverse gives base back.
func TestInvert(t *testing.T) {
	tests := []struct{ name, edit, base, want string }{
		{"insert", `[{"retain":2},{"insert":"A"}]`, `[{"insert":"123456"}]`, `[{"retain":2},{"delete":1}]`},
		{"delete", `[{"retain":2},{"delete":3}]`, `[{"insert":"123456"}]`, `[{"retain":2},{"insert":"345"}]`},
		{"retain", `[{"retain":2},{"retain":3,"attributes":{"bold":true}}]`, `[{"insert":"123456"}]`, `[{"retain":2},{"retain":3,"attributes":{"bold":null}}]`},
		{"retain on different attributes", `[{"retain":4,"attributes":{"italic":true}}]`, `[{"insert":"123"},{"insert":"4","attributes":{"bold":true}}]`, `[{"retain":4,"attributes":{"italic":null}}]`},
		{"combined", `[{"retain":2},{"delete":2},{"insert":"AB","attributes":{"italic":true}},{"retain":2,"attributes":{"bold":true,"italic":null}},{"retain":2,"attributes":{"color":"red"}},{"delete":1}]`, `[{"insert":"123","attributes":{"bold":true}},{"insert":"456","attributes":{"italic":true}},{"insert":"789","attributes":{"bold":true,"color":"red"}}]`, `[{"retain":2},{"insert":"3","attributes":{"bold":true}},{"insert":"4","attributes":{"italic":true}},{"delete":2},{"retain":2,"attributes":{"bold":null,"italic":true}},{"retain":2},{"insert":"9","attributes":{"bold":true,"color":"red"}}]`},
		{"embed retain", `[{"retain":1,"attributes":{"bold":true}}]`, `[{"insert":{"image":"a.png"},"attributes":{"width":"3"}}]`, `[{"retain":1,"attributes":{"bold":null}}]`},
		{"embed delete", `[{"retain":1},{"delete":1}]`, `[{"insert":"a"},{"insert":{"image":"a.png"},"attributes":{"bold":true}},{"insert":"\n"}]`, `[{"retain":1},{"insert":{"image":"a.png"},"attributes":{"bold":true}}]`},
		{"astral delete", `[{"retain":1},{"delete":3}]`, `[{"insert":"a😀b😀\n"}]`, `[{"retain":1},{"insert":"😀b"}]`},
		{"astral retain null", `[{"retain":3,"attributes":{"bold":null}}]`, `[{"insert":"😀","attributes":{"bold":true}},{"insert":"x\n"}]`, `[{"retain":2,"attributes":{"bold":true}},{"retain":1,"attributes":{"bold":null}}]`},
		{"null on absent key", `[{"retain":1,"attributes":{"bold":null}}]`, `[{"insert":"x\n"}]`, `[{"retain":1,"attributes":{"bold":null}}]`},
		{"retain past base", `[{"retain":5,"attributes":{"bold":true}}]`, `[{"insert":"ab"}]`, `[{"retain":2,"attributes":{"bold":null}}]`},
		{"delete past base", `[{"delete":5}]`, `[{"insert":"ab"}]`, `[{"insert":"ab"}]`},
		{"empty", `[]`, `[{"insert":"ab"}]`, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edit, base := mustDelta(t, tt.edit), mustDelta(t, tt.base)
			inv := Invert(edit, base)
			if got := js(t, inv); got != tt.want {
				t.Errorf("Invert(%s, %s)\n got  %s\n want %s", tt.edit, tt.base, got, tt.want)
			}
			if edit.BaseLen() <= base.Length() {
				if back := Compose(Compose(base, edit), inv); !Equal(back, base) {
					t.Errorf("base·edit·inverse = %s, want %s", js(t, back), tt.base)
				}
			}
		})
	}
}

func TestInvertAttrs(t *testing.T) {
	tests := []struct{ attr, base, want string }{
		{`{"bold":true}`, `{}`, `{"bold":null}`},
		{`{"bold":true}`, `{"bold":true}`, `{}`},
		{`{"bold":null}`, `{"bold":true}`, `{"bold":true}`},
		{`{"bold":null}`, `{}`, `{"bold":null}`}, // quill: null !== undefined
		{`{"color":"red"}`, `{"color":"blue","bold":true}`, `{"color":"blue"}`},
		{`{"header":2}`, `{"header":1}`, `{"header":1}`},
		{`{}`, `{"bold":true}`, `{}`},
	}
	for _, tt := range tests {
		attr := mustDelta(t, `[{"retain":1,"attributes":`+tt.attr+`}]`)[0].Attributes
		base := mustDelta(t, `[{"retain":1,"attributes":`+tt.base+`}]`)[0].Attributes
		want := mustDelta(t, `[{"retain":1,"attributes":`+tt.want+`}]`)[0].Attributes
		if got := invertAttrs(attr, base); !attrsEqual(got, want) {
			t.Errorf("invertAttrs(%s, %s) = %v, want %s", tt.attr, tt.base, got, tt.want)
		}
	}
}
