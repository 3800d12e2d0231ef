package ot

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// What ParseDelta accepts, and the JSON it gives back (MarshalJSON of the
// result): the normal form quill-delta would write.
func TestParseDeltaAccepts(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", `[]`, `[]`},
		{"ops object", ` {"ops" : [ {"insert":"a"} ] } `, `[{"insert":"a"}]`},
		{"all kinds", `[{"retain":1},{"insert":"a"},{"delete":2}]`, `[{"retain":1},{"insert":"a"},{"delete":2}]`},
		{"keys in any order", `[{"attributes":{"bold":true},"insert":"a"}]`, `[{"insert":"a","attributes":{"bold":true}}]`},
		{"attribute keys sorted", `[{"insert":"a","attributes":{"z":1,"a":"x","m":false}}]`, `[{"insert":"a","attributes":{"a":"x","m":false,"z":1}}]`},
		{"null dropped on insert", `[{"insert":"a","attributes":{"bold":null,"i":true}}]`, `[{"insert":"a","attributes":{"i":true}}]`},
		{"only nulls on insert", `[{"insert":"a","attributes":{"bold":null}}]`, `[{"insert":"a"}]`},
		{"null kept on retain", `[{"retain":1,"attributes":{"bold":null}}]`, `[{"retain":1,"attributes":{"bold":null}}]`},
		{"empty attributes", `[{"retain":1,"attributes":{}},{"delete":1,"attributes":{}}]`, `[{"retain":1},{"delete":1}]`},
		{"escapes", `[{"insert":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"}]`, `[{"insert":"\"\\/\b\f\n\r\tAé😀"}]`},
		{"raw astral and BMP", `[{"insert":"é中😀"}]`, `[{"insert":"é中😀"}]`},
		{"NUL and controls", `[{"insert":"\u0000\u001f\u007f"}]`, `[{"insert":"\u0000\u001f` + "\x7f" + `"}]`},
		{"html kept", `[{"insert":"<a&b>\u2028"}]`, "[{\"insert\":\"<a&b>\u2028\"}]"},
		{"numbers in attributes", `[{"retain":1,"attributes":{"a":1.50,"b":-0,"c":1e2,"d":1E-7,"e":12345678901234567890}}]`, `[{"retain":1,"attributes":{"a":1.5,"b":0,"c":100,"d":1e-7,"e":12345678901234567000}}]`},
		{"embed string", `[{"insert":{"image":"https:\/\/x\u002fy"}}]`, `[{"insert":{"image":"https://x/y"}}]`},
		{"embed object kept in order", `[{"insert":{"mention":{ "z" : 1.0 , "a" : [ true , null , "\u00e9" ] , "o":{} , "e":[] }}}]`, `[{"insert":{"mention":{"z":1,"a":[true,null,"é"],"o":{},"e":[]}}}]`},
		{"embed with formats", `[{"insert":{"image":"x"},"attributes":{"width":"20"}}]`, `[{"insert":{"image":"x"},"attributes":{"width":"20"}}]`},
		{"retain MaxLen", `[{"retain":1073741824}]`, `[{"retain":1073741824}]`},
		{"whitespace everywhere", "\t\r\n[ { \"insert\" : \"a\" } , {\"delete\":1} ]\n", `[{"insert":"a"},{"delete":1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDelta([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseDelta(%s): %v", tt.in, err)
			}
			if got := js(t, d); got != tt.want {
				t.Errorf("ParseDelta(%s)\n got  %s\n want %s", tt.in, got, tt.want)
			}
			var u Delta
			if err := json.Unmarshal([]byte(tt.in), &u); err != nil || !Equal(u, d) {
				t.Errorf("json.Unmarshal = %v, %v", js(t, u), err)
			}
		})
	}
}

// What ParseDelta refuses: each with its kind of error and the words that
// say where and why.
func TestParseDeltaRejects(t *testing.T) {
	tests := []struct {
		name, in string
		err      error
		msg      string
	}{
		{"empty input", ``, ErrMalformed, "got end of input"},
		{"null", `null`, ErrMalformed, "got null"},
		{"string", `"x"`, ErrMalformed, "got string"},
		{"number", `12`, ErrMalformed, "got 12"},
		{"trailing data", `[] x`, ErrMalformed, "data after the delta"},
		{"two values", `[][]`, ErrMalformed, "data after the delta"},
		{"unclosed", `[{"insert":"a"}`, ErrMalformed, "end of input"},
		{"trailing comma", `[{"insert":"a"},]`, ErrMalformed, "op 1: an op must be an object"},
		{"op not object", `[1]`, ErrMalformed, "op 0: an op must be an object, got 1"},
		{"empty op", `[{}]`, ErrMalformed, "op 0: an op must have one of"},
		{"only attributes", `[{"attributes":{"bold":true}}]`, ErrMalformed, "op 0: an op must have one of"},
		{"two kinds", `[{"insert":"a","retain":1}]`, ErrMalformed, "only one of"},
		{"three kinds", `[{"insert":"a","retain":1,"delete":1}]`, ErrMalformed, "only one of"},
		{"duplicate key", `[{"retain":1,"retain":2}]`, ErrMalformed, `duplicate key "retain"`},
		{"unknown key", `[{"retain":1},{"retain":1,"bold":true}]`, ErrMalformed, `op 1: unknown key "bold"`},
		{"ops object extra key", `{"ops":[],"x":1}`, ErrMalformed, `only the key "ops"`},
		{"ops object other key", `{"op":[]}`, ErrMalformed, `only the key "ops"`},
		{"ops not array", `{"ops":{}}`, ErrMalformed, "ops must be an array"},
		{"empty insert", `[{"insert":""}]`, ErrMalformed, "insert must not be empty"},
		{"insert number", `[{"insert":5}]`, ErrMalformed, "insert must be a string or an embed object, got 5"},
		{"insert null", `[{"insert":null}]`, ErrMalformed, "got null"},
		{"insert array", `[{"insert":["a"]}]`, ErrMalformed, "got array"},
		{"retain negative", `[{"insert":"a"},{"insert":"b"},{"insert":"c"},{"retain":-1}]`, ErrMalformed, "op 3: retain must be a positive integer, got -1"},
		{"retain zero", `[{"retain":0}]`, ErrMalformed, "got 0"},
		{"retain fraction", `[{"retain":1.5}]`, ErrMalformed, "got 1.5"},
		{"retain fraction zero", `[{"retain":1.0}]`, ErrMalformed, "got 1.0"},
		{"retain exponent", `[{"retain":1e3}]`, ErrMalformed, "got 1e3"},
		{"retain leading zero", `[{"retain":01}]`, ErrMalformed, "invalid JSON"},
		{"retain string", `[{"retain":"5"}]`, ErrMalformed, "got string"},
		{"retain object", `[{"retain":{"image":"x"}}]`, ErrMalformed, "not supported"},
		{"retain huge", `[{"retain":1073741825}]`, ErrTooLarge, "retain 1073741825 is more than 1073741824"},
		{"retain very huge", `[{"retain":123456789012345678901234567890}]`, ErrTooLarge, "more than"},
		{"delete negative", `[{"delete":-3}]`, ErrMalformed, "delete must be a positive integer, got -3"},
		{"delete huge", `[{"delete":99999999999}]`, ErrTooLarge, "delete"},
		{"delta too long", `[{"retain":1073741824},{"delete":1}]`, ErrTooLarge, "op 1: the delta is longer"},
		{"delete with attributes", `[{"delete":1,"attributes":{"bold":true}}]`, ErrMalformed, "a delete has no attributes"},
		{"attributes not object", `[{"retain":1,"attributes":[]}]`, ErrMalformed, "attributes must be an object, got array"},
		{"attributes null", `[{"retain":1,"attributes":null}]`, ErrMalformed, "attributes must be an object, got null"},
		{"attribute object", `[{"retain":1,"attributes":{"link":{"href":"x"}}}]`, ErrMalformed, `attribute "link" must be a string, number, boolean or null, got object`},
		{"attribute array", `[{"retain":1,"attributes":{"x":[1]}}]`, ErrMalformed, "got array"},
		{"attribute duplicate", `[{"retain":1,"attributes":{"b":1,"b":2}}]`, ErrMalformed, `duplicate attribute "b"`},
		{"attribute infinite", `[{"retain":1,"attributes":{"b":1e999}}]`, ErrMalformed, "out of range"},
		{"attribute bad literal", `[{"retain":1,"attributes":{"b":tru}}]`, ErrMalformed, "invalid JSON"},
		{"embed empty", `[{"insert":{}}]`, ErrMalformed, "exactly one key"},
		{"embed two keys", `[{"insert":{"image":"a","video":"b"}}]`, ErrMalformed, "exactly one key"},
		{"embed too deep", `[{"insert":{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}]`, ErrMalformed, "deeper than"},
		{"embed bad value", `[{"insert":{"x":[1,]}}]`, ErrMalformed, "invalid JSON"},
		{"invalid UTF-8", "[{\"insert\":\"a\xffb\"}]", ErrInvalidUTF8, "op 0: invalid UTF-8"},
		{"invalid UTF-8 after escape", "[{\"insert\":\"\\n\xc3\"}]", ErrInvalidUTF8, "invalid UTF-8"},
		{"UTF-8 surrogate", "[{\"insert\":\"\xed\xa0\x80\"}]", ErrInvalidUTF8, "invalid UTF-8"},
		{"invalid UTF-8 in key", "[{\"retain\":1,\"attributes\":{\"\xff\":1}}]", ErrInvalidUTF8, "invalid UTF-8"},
		{"lone high surrogate", `[{"insert":"a\ud800"}]`, ErrInvalidUTF8, `lone surrogate \ud800`},
		{"lone high then text", `[{"insert":"\ud83dx"}]`, ErrInvalidUTF8, "lone surrogate"},
		{"high then high", `[{"insert":"\ud83d\ud83d"}]`, ErrInvalidUTF8, "lone surrogate"},
		{"lone low surrogate", `[{"insert":"\uDE00"}]`, ErrInvalidUTF8, `lone surrogate \ude00`},
		{"lone surrogate in attribute", `[{"retain":1,"attributes":{"link":"\udc00"}}]`, ErrInvalidUTF8, "lone surrogate"},
		{"lone surrogate in attribute key", `[{"retain":1,"attributes":{"\ud800":1}}]`, ErrInvalidUTF8, "lone surrogate"},
		{"lone surrogate in embed", `[{"insert":{"x":{"y":["\ud800"]}}}]`, ErrInvalidUTF8, "lone surrogate"},
		{"lone surrogate in key", `[{"\ud800":1}]`, ErrInvalidUTF8, "lone surrogate"},
		{"bad escape", `[{"insert":"\x"}]`, ErrMalformed, "valid escape"},
		{"short unicode escape", `[{"insert":"\u12"}]`, ErrMalformed, "hex digits"},
		{"raw control character", "[{\"insert\":\"a\nb\"}]", ErrMalformed, "control character"},
		{"unterminated string", `[{"insert":"abc`, ErrMalformed, "ending the string"},
		{"single quotes", `[{'insert':'a'}]`, ErrMalformed, "invalid JSON"},
		{"deep arrays", strings.Repeat("[", 100000), ErrMalformed, "op 0: an op must be an object, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDelta([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseDelta(%s) = %v, %v; want %v", tt.in, d, err, tt.err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseDelta(%s) error %q does not say %q", tt.in, err, tt.msg)
			}
			keep := Delta{Delete(7)}
			if err := keep.UnmarshalJSON([]byte(tt.in)); err == nil || len(keep) != 1 || keep[0].Delete != 7 {
				t.Errorf("UnmarshalJSON changed the delta on error: %v", keep)
			}
		})
	}
}

// A 10 MiB insert decodes (the length limit is the server's business).
func TestParseDeltaLargeString(t *testing.T) {
	s := strings.Repeat("é😀x", 10<<20/8)
	d, err := ParseDelta([]byte(`[{"insert":"` + s + `"}]`))
	if err != nil || d[0].Insert != s {
		t.Fatalf("ParseDelta of %d bytes: %v", len(s), err)
	}
	if d.Length() != UTF16Len(s) {
		t.Fatalf("Length %d, want %d", d.Length(), UTF16Len(s))
	}
}

// Numbers are written as JavaScript writes them (expectations from
// JSON.stringify in Node).
func TestMarshalNumbersAsJavaScript(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{12.5, "12.5"},
		{0.1, "0.1"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{1.5e-7, "1.5e-7"},
		{1.23e-18, "1.23e-18"},
		{100000000000000000000, "100000000000000000000"},
		{1e+21, "1e+21"},
		{1.5e+21, "1.5e+21"},
		{123456789012345680000, "123456789012345680000"},
		{9007199254740992, "9007199254740992"},
		{9007199254740994, "9007199254740994"},
		{1000000000000000, "1000000000000000"},
		{10000000000000000, "10000000000000000"},
		{0.000001234, "0.000001234"},
		{-3.25e-8, "-3.25e-8"},
		{1.7976931348623157e+308, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{100, "100"},
		{1.0000000000000002, "1.0000000000000002"},
	}
	for _, tt := range tests {
		if got := string(appendJSNumber(nil, tt.f)); got != tt.want {
			t.Errorf("appendJSNumber(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func TestMarshalStringsAsJavaScript(t *testing.T) {
	tests := []struct{ s, want string }{
		{"a\"b\\c", `"a\"b\\c"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f\""},
		{"<&>\u2028\u2029", "\"<&>\u2028\u2029\""},
		{"é😀", `"é😀"`},
	}
	for _, tt := range tests {
		if got := string(appendJSString(nil, tt.s)); got != tt.want {
			t.Errorf("appendJSString(%q) = %s, want %s", tt.s, got, tt.want)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	if b, err := Delta(nil).MarshalJSON(); err != nil || string(b) != "[]" {
		t.Fatalf("nil delta: %s, %v", b, err)
	}
	d := Delta{
		InsertText("a", Attributes{"size": 12, "font": "serif", "bold": true, "x": nil}),
		InsertEmbed("image", json.RawMessage(`"i.png"`), nil),
		Retain(3, Attributes{"color": nil}),
		Delete(2),
	}
	want := `[{"insert":"a","attributes":{"bold":true,"font":"serif","size":12,"x":null}},{"insert":{"image":"i.png"}},{"retain":3,"attributes":{"color":null}},{"delete":2}]`
	if got := js(t, d); got != want {
		t.Fatalf("MarshalJSON\n got  %s\n want %s", got, want)
	}
	// Inside a struct, through encoding/json.
	b, err := json.Marshal(struct {
		D Delta `json:"delta"`
	}{Delta{InsertText("x", nil)}})
	if err != nil || string(b) != `{"delta":[{"insert":"x"}]}` {
		t.Fatalf("json.Marshal: %s, %v", b, err)
	}
	for _, bad := range []Delta{
		{{}},
		{Retain(-1, nil)},
		{{Delete: 1, Attributes: Attributes{"b": true}}},
		{InsertText("\xff", nil)},
		{InsertEmbed("x", nil, nil)},
		{InsertEmbed("x", json.RawMessage(`{`), nil)},
		{Retain(1, Attributes{"b": math.NaN()})},
		{Retain(1, Attributes{"b": []int{1}})},
		{Retain(1, Attributes{"b": "\xff"})},
	} {
		if b, err := bad.MarshalJSON(); err == nil {
			t.Errorf("MarshalJSON(%#v) = %s, want an error", bad, b)
		}
	}
}

// Decoding a small op costs a handful of allocations, not dozens.
func TestParseDeltaAllocs(t *testing.T) {
	in := []byte(`[{"retain":500},{"insert":"x","attributes":{"bold":true,"header":1,"list":"bullet"}},{"delete":3}]`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseDelta(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("ParseDelta: %v allocations per small delta", allocs)
	}
}
