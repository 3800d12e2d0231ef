package ot

import (
	"errors"
	"testing"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name, doc, edit, want string
		err                   error
	}{
		{"empty edit", `[{"insert":"ab\n"}]`, `[]`, `[{"insert":"ab\n"}]`, nil},
		{"insert at start", `[{"insert":"ab\n"}]`, `[{"insert":"x"}]`, `[{"insert":"xab\n"}]`, nil},
		{"insert after astral", `[{"insert":"😀\n"}]`, `[{"retain":2},{"insert":"x"}]`, `[{"insert":"😀x\n"}]`, nil},
		{"insert embed", `[{"insert":"ab\n"}]`, `[{"retain":1},{"insert":{"image":"i"},"attributes":{"width":"2"}}]`, `[{"insert":"a"},{"insert":{"image":"i"},"attributes":{"width":"2"}},{"insert":"b\n"}]`, nil},
		{"format text", `[{"insert":"abc\n"}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":true}}]`, `[{"insert":"a"},{"insert":"b","attributes":{"bold":true}},{"insert":"c\n"}]`, nil},
		{"unformat merges", `[{"insert":"a"},{"insert":"b","attributes":{"bold":true}},{"insert":"c\n"}]`, `[{"retain":1},{"retain":1,"attributes":{"bold":null}}]`, `[{"insert":"abc\n"}]`, nil},
		{"format embed", `[{"insert":{"image":"i"}},{"insert":"\n"}]`, `[{"retain":1,"attributes":{"alt":"x"}}]`, `[{"insert":{"image":"i"},"attributes":{"alt":"x"}},{"insert":"\n"}]`, nil},
		{"line format", `[{"insert":"a\n"}]`, `[{"retain":1},{"retain":1,"attributes":{"header":1}}]`, `[{"insert":"a"},{"insert":"\n","attributes":{"header":1}}]`, nil},
		{"delete astral", `[{"insert":"a😀b\n"}]`, `[{"retain":1},{"delete":2}]`, `[{"insert":"ab\n"}]`, nil},
		{"delete embed", `[{"insert":"a"},{"insert":{"image":"i"}},{"insert":"b\n"}]`, `[{"retain":1},{"delete":1}]`, `[{"insert":"ab\n"}]`, nil},
		{"replace", `[{"insert":"abc\n"}]`, `[{"retain":1},{"delete":1},{"insert":"X"}]`, `[{"insert":"aXc\n"}]`, nil},
		{"replace all but newline", `[{"insert":"abc\n"}]`, `[{"delete":3},{"insert":"z"}]`, `[{"insert":"z\n"}]`, nil},
		{"keeps two final newlines' last", `[{"insert":"a\n\n"}]`, `[{"retain":2},{"delete":1}]`, `[{"insert":"a\n"}]`, nil},
		{"null on insert dropped", `[{"insert":"\n"}]`, `[{"insert":"a","attributes":{"bold":true}}]`, `[{"insert":"a","attributes":{"bold":true}},{"insert":"\n"}]`, nil},
		{"retain past end", `[{"insert":"ab\n"}]`, `[{"retain":4}]`, ``, ErrDoesNotFit},
		{"delete past end", `[{"insert":"ab\n"}]`, `[{"retain":1},{"delete":3}]`, ``, ErrDoesNotFit},
		{"delete final newline", `[{"insert":"ab\n"}]`, `[{"retain":2},{"delete":1}]`, ``, ErrDoesNotFit},
		{"insert after final newline", `[{"insert":"ab\n"}]`, `[{"retain":3},{"insert":"x"}]`, ``, ErrDoesNotFit},
		{"embed after final newline", `[{"insert":"ab\n"}]`, `[{"retain":3},{"insert":{"image":"i"}}]`, ``, ErrDoesNotFit},
		{"insert inside pair", `[{"insert":"😀\n"}]`, `[{"retain":1},{"insert":"x"}]`, ``, ErrSplitsSurrogate},
		{"retain ends inside pair", `[{"insert":"a😀\n"}]`, `[{"retain":2,"attributes":{"bold":true}}]`, ``, ErrSplitsSurrogate},
		{"delete ends inside pair", `[{"insert":"😀\n"}]`, `[{"delete":1}]`, ``, ErrSplitsSurrogate},
		{"delete starts inside pair", `[{"insert":"😀b\n"}]`, `[{"retain":1},{"delete":2}]`, ``, ErrSplitsSurrogate},
		{"pair across ops", `[{"insert":"a😀","attributes":{"bold":true}},{"insert":"😀\n"}]`, `[{"retain":4},{"insert":"x"}]`, ``, ErrSplitsSurrogate},
		{"doc not a document", `[{"retain":1}]`, `[]`, ``, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, edit := mustDelta(t, tt.doc), mustDelta(t, tt.edit)
			got, err := Apply(doc, edit)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Apply(%s, %s) = %v, %v; want error %v", tt.doc, tt.edit, js(t, got), err, tt.err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Msg == "" {
					t.Fatalf("error %v is not a typed *Error with a message", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply(%s, %s): %v", tt.doc, tt.edit, err)
			}
			if js(t, got) != tt.want {
				t.Errorf("Apply(%s, %s)\n got  %s\n want %s", tt.doc, tt.edit, js(t, got), tt.want)
			}
		})
	}
}

// Deltas built in Go reach Apply without ParseDelta's checks.
func TestApplyInvalidEdit(t *testing.T) {
	doc := Delta{InsertText("ab\n", nil)}
	tests := []struct {
		name string
		edit Delta
		err  error
	}{
		{"empty op", Delta{{}}, ErrMalformed},
		{"negative retain", Delta{Retain(-1, nil)}, ErrMalformed},
		{"two kinds", Delta{{Retain: 1, Delete: 1}}, ErrMalformed},
		{"text and embed", Delta{{Insert: "a", Embed: &Embed{Key: "x", Value: []byte("1")}}}, ErrMalformed},
		{"delete with formats", Delta{{Delete: 1, Attributes: Attributes{"bold": true}}}, ErrMalformed},
		{"bad format type", Delta{Retain(1, Attributes{"bold": []string{"x"}})}, ErrMalformed},
		{"invalid UTF-8", Delta{InsertText("\xff", nil)}, ErrInvalidUTF8},
		{"surrogate in UTF-8", Delta{InsertText("\xed\xa0\x80", nil)}, ErrInvalidUTF8},
		{"bad embed JSON", Delta{InsertEmbed("x", []byte("{"), nil)}, ErrMalformed},
		{"embed lone surrogate", Delta{InsertEmbed("x", []byte(`"\udc00"`), nil)}, ErrInvalidUTF8},
		{"huge retain", Delta{Retain(MaxLen+1, nil)}, ErrTooLarge},
		{"huge total", Delta{Retain(MaxLen, nil), Delete(MaxLen)}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Apply(doc, tt.edit); !errors.Is(err, tt.err) {
				t.Fatalf("Apply = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestValidateDocument(t *testing.T) {
	tests := []struct {
		name string
		doc  Delta
		err  error
	}{
		{"ok", Delta{InsertText("a\n", Attributes{"bold": true})}, nil},
		{"empty", nil, ErrDoesNotFit},
		{"no final newline", Delta{InsertText("a", nil)}, ErrDoesNotFit},
		{"ends with embed", Delta{InsertText("\n", nil), InsertEmbed("i", []byte(`"x"`), nil)}, ErrDoesNotFit},
		{"retain", Delta{Retain(1, nil), InsertText("\n", nil)}, ErrMalformed},
		{"null format", Delta{InsertText("\n", Attributes{"bold": nil})}, ErrMalformed},
	}
	for _, tt := range tests {
		if err := ValidateDocument(tt.doc); !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s: ValidateDocument = %v, want %v", tt.name, err, tt.err)
		}
	}
}

// A small edit near the start of a long text run costs one copy of the run
// (the merged text) and a few allocations: the iterator measures only what
// it hands out.
func TestApplyCheapOnLongRun(t *testing.T) {
	long := make([]byte, 1<<20)
	for i := range long {
		long[i] = 'a'
	}
	doc := Delta{InsertText(string(long)+"\n", nil)}
	edit := Delta{Retain(5, nil), InsertText("x", nil)}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := Apply(doc, edit); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 6 {
		t.Errorf("Apply on a 1 MiB run: %v allocations", allocs)
	}
}
