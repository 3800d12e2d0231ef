package ot

import "testing"

// Compose, one case per pair of component kinds (insert, embed, retain,
// delete, each with and without formats), astral characters on the
// boundaries, and quill's start and end shortcuts, which decide the exact
// shape of the result. Expectations are quill-delta 5.1.0's output.
func TestCompose(t *testing.T) {
	tests := []struct{ name, a, b, want string }{
		{"insert+insert", `[{"insert":"A"}]`, `[{"insert":"B"}]`, `[{"insert":"BA"}]`},
		{"insert+retain", `[{"insert":"A"}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red","font":null}}]`, `[{"insert":"A","attributes":{"bold":true,"color":"red"}}]`},
		{"insert+delete", `[{"insert":"A"}]`, `[{"delete":1}]`, `[]`},
		{"delete+insert", `[{"delete":1}]`, `[{"insert":"B"}]`, `[{"insert":"B"},{"delete":1}]`},
		{"delete+retain", `[{"delete":1}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red"}}]`, `[{"delete":1},{"retain":1,"attributes":{"bold":true,"color":"red"}}]`},
		{"delete+delete", `[{"delete":1}]`, `[{"delete":1}]`, `[{"delete":2}]`},
		{"retain+insert", `[{"retain":1,"attributes":{"color":"blue"}}]`, `[{"insert":"B"}]`, `[{"insert":"B"},{"retain":1,"attributes":{"color":"blue"}}]`},
		{"retain+retain", `[{"retain":1,"attributes":{"color":"blue"}}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red","font":null}}]`, `[{"retain":1,"attributes":{"bold":true,"color":"red","font":null}}]`},
		{"retain+delete", `[{"retain":1,"attributes":{"color":"blue"}}]`, `[{"delete":1}]`, `[{"delete":1}]`},
		{"embed+insert", `[{"insert":{"image":"a.png"},"attributes":{"bold":true}}]`, `[{"insert":"B"}]`, `[{"insert":"B"},{"insert":{"image":"a.png"},"attributes":{"bold":true}}]`},
		{"embed+retain", `[{"insert":{"image":"a.png"},"attributes":{"bold":true,"width":"2"}}]`, `[{"retain":1,"attributes":{"alt":"logo","bold":null}}]`, `[{"insert":{"image":"a.png"},"attributes":{"alt":"logo","width":"2"}}]`},
		{"embed+delete", `[{"insert":{"image":"a.png"}}]`, `[{"delete":1}]`, `[]`},
		{"insert+embed", `[{"insert":"A"}]`, `[{"retain":1},{"insert":{"image":"a.png"}}]`, `[{"insert":"A"},{"insert":{"image":"a.png"}}]`},
		{"retain+embed", `[{"retain":2,"attributes":{"bold":true}}]`, `[{"retain":1},{"insert":{"image":"a.png"},"attributes":{"italic":true}}]`, `[{"retain":1,"attributes":{"bold":true}},{"insert":{"image":"a.png"},"attributes":{"italic":true}},{"retain":1,"attributes":{"bold":true}}]`},
		{"delete+embed", `[{"delete":2}]`, `[{"insert":{"image":"a.png"}}]`, `[{"insert":{"image":"a.png"}},{"delete":2}]`},
		{"astral insert+retain split after pair", `[{"insert":"a😀b"}]`, `[{"retain":3,"attributes":{"bold":true}}]`, `[{"insert":"a😀","attributes":{"bold":true}},{"insert":"b"}]`},
		{"astral insert+insert between pairs", `[{"insert":"😀😀"}]`, `[{"retain":2},{"insert":"x"}]`, `[{"insert":"😀x😀"}]`},
		{"astral insert+delete pair", `[{"insert":"a😀b"}]`, `[{"retain":1},{"delete":2}]`, `[{"insert":"ab"}]`},
		{"astral retain+retain", `[{"retain":2,"attributes":{"bold":true}},{"insert":"😀"}]`, `[{"retain":4,"attributes":{"bold":null}}]`, `[{"retain":2,"attributes":{"bold":null}},{"insert":"😀"}]`},
		{"astral delete+insert", `[{"delete":2}]`, `[{"insert":"😀","attributes":{"italic":true}}]`, `[{"insert":"😀","attributes":{"italic":true}},{"delete":2}]`},
		{"insert in middle of text", `[{"insert":"Hello"}]`, `[{"retain":3},{"insert":"X"}]`, `[{"insert":"HelXlo"}]`},
		{"insert then delete ordering", `[{"insert":"Hello"}]`, `[{"retain":3},{"insert":"X"},{"delete":1}]`, `[{"insert":"HelXo"}]`},
		{"delete then insert ordering", `[{"insert":"Hello"}]`, `[{"retain":3},{"delete":1},{"insert":"X"}]`, `[{"insert":"HelXo"}]`},
		{"delete entire text", `[{"retain":4},{"insert":"Hello"}]`, `[{"delete":9}]`, `[{"delete":4}]`},
		{"retain more than length", `[{"insert":"Hello"}]`, `[{"retain":10}]`, `[{"insert":"Hello"}]`},
		{"remove all attributes", `[{"insert":"A","attributes":{"bold":true}}]`, `[{"retain":1,"attributes":{"bold":null}}]`, `[{"insert":"A"}]`},
		{"retain keeps null", `[{"retain":3}]`, `[{"retain":2,"attributes":{"bold":null}}]`, `[{"retain":2,"attributes":{"bold":null}}]`},
		{"retain start optimization", `[{"insert":"A","attributes":{"bold":true}},{"insert":"B"},{"insert":"C","attributes":{"bold":true}},{"delete":1}]`, `[{"retain":3},{"insert":"D"}]`, `[{"insert":"A","attributes":{"bold":true}},{"insert":"B"},{"insert":"C","attributes":{"bold":true}},{"insert":"D"},{"delete":1}]`},
		{"retain start optimization split", `[{"insert":"A","attributes":{"bold":true}},{"insert":"B"},{"insert":"C","attributes":{"bold":true}},{"retain":5},{"delete":1}]`, `[{"retain":4},{"insert":"D"}]`, `[{"insert":"A","attributes":{"bold":true}},{"insert":"B"},{"insert":"C","attributes":{"bold":true}},{"retain":1},{"insert":"D"},{"retain":4},{"delete":1}]`},
		{"retain start keeps unmerged inserts", `[{"insert":"A"},{"insert":"B"}]`, `[{"retain":2}]`, `[{"insert":"A"},{"insert":"B"}]`},
		{"retain end optimization", `[{"insert":"A","attributes":{"bold":true}},{"insert":"B"},{"insert":"C","attributes":{"bold":true}}]`, `[{"delete":1}]`, `[{"insert":"B"},{"insert":"C","attributes":{"bold":true}}]`},
		{"retain end optimization join", `[{"insert":"A","attributes":{"bold":true}},{"insert":"B"},{"insert":"C","attributes":{"bold":true}},{"insert":"D"},{"insert":"E","attributes":{"bold":true}},{"insert":"F"}]`, `[{"retain":1},{"delete":1}]`, `[{"insert":"AC","attributes":{"bold":true}},{"insert":"D"},{"insert":"E","attributes":{"bold":true}},{"insert":"F"}]`},
		{"retain end concat keeps rest as is", `[{"insert":"ab"},{"insert":"c"},{"insert":"d"}]`, `[{"retain":1,"attributes":{"bold":true}},{"retain":1}]`, `[{"insert":"a","attributes":{"bold":true}},{"insert":"bc"},{"insert":"d"}]`},
		{"empty + edit", `[]`, `[{"retain":2},{"insert":"x"}]`, `[{"retain":2},{"insert":"x"}]`},
		{"edit + empty", `[{"retain":2},{"insert":"x"}]`, `[]`, `[{"retain":2},{"insert":"x"}]`},
		{"trailing plain retain chopped", `[{"insert":"ab"}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":true}},{"retain":3}]`, `[{"insert":"a"},{"insert":"b","attributes":{"bold":true}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustDelta(t, tt.a), mustDelta(t, tt.b)
			got := js(t, Compose(a, b))
			if got != tt.want {
				t.Errorf("Compose(%s, %s)\n got  %s\n want %s", tt.a, tt.b, got, tt.want)
			}
			if js(t, a) != js(t, mustDelta(t, tt.a)) || js(t, b) != js(t, mustDelta(t, tt.b)) {
				t.Errorf("Compose modified its input")
			}
		})
	}
}
