package ot

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"reflect"
)

// Random documents and edits for the property, fuzz and differential tests.
// They are deliberately self-contained (no call into the code under test),
// so a bug in the algebra cannot hide itself by also bending its inputs.
//
// Every test that uses them builds its generator with
// rand.New(rand.NewPCG(seed, seed)) and prints the seed when it fails.

// randomPieces is the alphabet of text runs: ASCII, BMP non-ASCII, astral
// characters (two UTF-16 units each, so boundaries can fall inside them),
// a multi-rune emoji and a few newlines so documents have several lines.
var randomPieces = []string{
	"a", "b", "c", "d", "xyz", " ", "hello", "Zoë", "é", "中文", "ß",
	"😀", "👍🏽", "𝒳", "🇫🇷", "\t", "\"q\"", "\\", "<&>", "\n", "\n",
}

// randomInline are character formats for inserts, including a number and
// a non-ASCII string.
var randomInline = []Attributes{
	nil, nil, nil,
	{"bold": true},
	{"italic": true},
	{"bold": true, "italic": true},
	{"color": "#ff0000"},
	{"link": "https://example.com/ü?q=1&r=2"},
	{"size": 12.5},
	{"bold": false, "color": "#00f"},
}

// randomLine are line formats, used on "\n".
var randomLine = []Attributes{
	nil, nil,
	{"header": float64(1)},
	{"header": float64(2)},
	{"list": "bullet"},
	{"align": "center", "indent": float64(3)},
}

// randomRetainAttrs are formats a retain sets or, with nil, removes.
var randomRetainAttrs = []Attributes{
	{"bold": true},
	{"bold": nil},
	{"italic": true, "bold": nil},
	{"color": "#00ff00"},
	{"color": nil},
	{"header": float64(2)},
	{"header": nil, "list": "ordered"},
	{"link": nil, "size": 12.5},
	{"bold": false},
}

// randomEmbeds are embed inserts; values are compact JSON as ParseDelta
// produces them.
var randomEmbeds = []Embed{
	{Key: "image", Value: json.RawMessage(`"https://example.com/a.png"`)},
	{Key: "formula", Value: json.RawMessage(`"e=mc^2"`)},
	{Key: "video", Value: json.RawMessage(`"https://v.example/😀"`)},
	{Key: "mention", Value: json.RawMessage(`{"id":7,"name":"Zoë","tags":[1,true,null]}`)},
}

func pickAttrs(r *rand.Rand, pool []Attributes) Attributes {
	// A fresh map every time: tests must not be able to alias each other's
	// formats through the pool.
	return maps.Clone(pool[r.IntN(len(pool))])
}

func randomText(r *rand.Rand, maxPieces int) string {
	n := 1 + r.IntN(maxPieces)
	s := ""
	for range n {
		s += randomPieces[r.IntN(len(randomPieces))]
	}
	return s
}

func randomEmbedOp(r *rand.Rand, attrs Attributes) Op {
	e := randomEmbeds[r.IntN(len(randomEmbeds))]
	return InsertEmbed(e.Key, append(json.RawMessage(nil), e.Value...), attrs)
}

// sameAttrs is attribute equality for the generators only (nil == empty).
func sameAttrs(a, b Attributes) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return reflect.DeepEqual(a, b)
}

// appendMerged appends op, joining it to a preceding text insert with the
// same formats, so generated documents are canonical.
func appendMerged(d Delta, op Op) Delta {
	if n := len(d); n > 0 && op.Embed == nil && op.Insert != "" &&
		d[n-1].Embed == nil && d[n-1].Insert != "" && sameAttrs(d[n-1].Attributes, op.Attributes) {
		d[n-1].Insert += op.Insert
		return d
	}
	return append(d, op)
}

// randomDoc returns a random canonical document of 1 to about 200 UTF-16
// units: formatted text runs (ASCII, BMP, astral), embeds, line formats,
// always ending with "\n".
func randomDoc(r *rand.Rand) Delta {
	target := r.IntN(200)
	var d Delta
	units := 0
	for units < target {
		var op Op
		switch k := r.IntN(10); {
		case k == 0:
			op = randomEmbedOp(r, pickAttrs(r, randomInline))
		case k == 1:
			op = InsertText("\n", pickAttrs(r, randomLine))
		default:
			op = InsertText(randomText(r, 4), pickAttrs(r, randomInline))
		}
		if len(op.Attributes) == 0 {
			op.Attributes = nil
		}
		d = appendMerged(d, op)
		units += op.Len()
	}
	last := InsertText("\n", pickAttrs(r, randomLine))
	if len(last.Attributes) == 0 {
		last.Attributes = nil
	}
	return appendMerged(d, last)
}

// docBoundaries reports, for every unit offset 0..len(doc), whether an edit
// may place a boundary there: false inside a surrogate pair.
func docBoundaries(doc Delta) []bool {
	var ok []bool
	for _, op := range doc {
		if op.Embed != nil {
			ok = append(ok, true)
			continue
		}
		for _, c := range op.Insert {
			ok = append(ok, true)
			if c >= 0x10000 {
				ok = append(ok, false)
			}
		}
	}
	return append(ok, true)
}

// randomEdit returns a random edit that Apply accepts on doc: retains with
// and without formats (including nil removals), text and embed inserts with
// formats, and deletes; it never splits a surrogate pair, never deletes the
// final "\n" and never inserts after it. The edit is not necessarily
// canonical (adjacent retains, a trailing plain retain, delete before
// insert), which is what wire input looks like too.
func randomEdit(r *rand.Rand, doc Delta) Delta {
	ok := docBoundaries(doc)
	total := len(ok) - 1 // document length in units; the last unit is the final "\n"
	// span picks a length from pos so that pos+n <= limit lands on a
	// boundary; 0 if there is no room.
	span := func(pos, limit int) int {
		if pos >= limit {
			return 0
		}
		maxN := min(limit-pos, 1+r.IntN(40))
		n := 1 + r.IntN(maxN)
		for !ok[pos+n] {
			n++ // limit itself is always a boundary
		}
		return n
	}
	var e Delta
	pos := 0
	steps := r.IntN(8)
	for range steps {
		switch k := r.IntN(10); {
		case k < 3: // insert, never after the final "\n"
			if pos >= total {
				continue
			}
			var op Op
			if r.IntN(5) == 0 {
				op = randomEmbedOp(r, pickAttrs(r, randomInline))
			} else {
				op = InsertText(randomText(r, 3), pickAttrs(r, randomInline))
			}
			if len(op.Attributes) == 0 {
				op.Attributes = nil
			}
			e = append(e, op)
		case k < 7: // retain, possibly over the final "\n"
			n := span(pos, total)
			if n == 0 {
				continue
			}
			var attrs Attributes
			if r.IntN(3) == 0 {
				attrs = pickAttrs(r, randomRetainAttrs)
			}
			e = append(e, Retain(n, attrs))
			pos += n
		default: // delete, never the final "\n"
			n := span(pos, total-1)
			if n == 0 {
				continue
			}
			e = append(e, Delete(n))
			pos += n
		}
	}
	return e
}
