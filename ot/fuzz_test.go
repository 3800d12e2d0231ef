package ot

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"testing"
)

// Fuzz targets. The seed corpus is committed under testdata/fuzz/<Name>/
// (inputs that once crashed or that probe the strict decoder: lone
// surrogates, invalid UTF-8, huge numbers, deep nesting), so plain
// `go test` runs every one of them. To search for more:
//
//	go test ./ot -run='^$' -fuzz=FuzzParseDelta -fuzztime=30s

// FuzzParseDelta: any bytes either decode to a valid delta whose JSON
// decodes back to the same delta and the same bytes, or give a typed
// *Error. Never a panic.
func FuzzParseDelta(f *testing.F) {
	for _, s := range []string{
		`[]`, `{"ops":[]}`, `[{"insert":"a😀\n","attributes":{"bold":true,"size":12.5,"x":null}}]`,
		`[{"retain":3,"attributes":{"color":null}},{"delete":2},{"insert":{"image":"x"}}]`,
		`[{"insert":"\ud800"}]`, `[{"retain":1e3}]`, `[{"retain":99999999999999999999}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDelta(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil || e.Msg == "" {
				t.Fatalf("ParseDelta(%q): untyped error %v", data, err)
			}
			return
		}
		if err := ValidateEdit(d); err != nil {
			t.Fatalf("ParseDelta(%q) gave an invalid delta: %v", data, err)
		}
		b, err := d.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON after ParseDelta(%q): %v", data, err)
		}
		d2, err := ParseDelta(b)
		if err != nil {
			t.Fatalf("ParseDelta(MarshalJSON(ParseDelta(%q)) = %s): %v", data, b, err)
		}
		if !Equal(d, d2) {
			t.Fatalf("round trip changed %q:\n %s\n %s", data, b, js(t, d2))
		}
		if b2 := js(t, d2); b2 != string(b) {
			t.Fatalf("JSON not stable for %q:\n %s\n %s", data, b, b2)
		}
		if d.Length() > MaxLen {
			t.Fatalf("ParseDelta accepted length %d", d.Length())
		}
		// The algebra takes any valid deltas, fitting or not, without panic.
		c := Canonical(d)
		if cc := Canonical(c); !Equal(c, cc) {
			t.Fatalf("Canonical not idempotent on %s", b)
		}
		Compose(d, d)
		Transform(d, c, true)
		Invert(d, c)
		TransformPosition(d, d.Length()/2, false)
	})
}

// fuzzSeed turns fuzz bytes into a generator seed.
func fuzzSeed(data []byte) uint64 {
	if len(data) == 8 {
		return binary.LittleEndian.Uint64(data)
	}
	h := fnv.New64a()
	h.Write(data)
	return h.Sum64()
}

// FuzzProperties: every law of algebra_test.go on the random documents and
// edits a seed gives. The fuzzer explores seeds; a failure names the seed.
func FuzzProperties(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(binary.LittleEndian.AppendUint64(nil, s))
	}
	laws := []struct {
		name string
		law  func(*testing.T, *rand.Rand)
	}{
		{"ApplyMatchesModel", lawApplyMatchesModel},
		{"ComposeIsSequentialApply", lawComposeIsSequentialApply},
		{"TransformConverges", lawTransformConverges},
		{"InvertUndoes", lawInvertUndoes},
		{"TransformPositionFollowsText", lawTransformPositionFollowsText},
		{"Canonical", lawCanonical},
		{"JSONRoundTrip", lawJSONRoundTrip},
		{"ApplyRefusesMisfits", lawApplyRefusesMisfits},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seed := fuzzSeed(data)
		t.Logf("seed %d", seed) // shown only if a law fails
		for _, l := range laws {
			t.Logf("law %s", l.name)
			l.law(t, rand.New(rand.NewPCG(seed, seed)))
		}
	})
}

// FuzzApply: two arbitrary JSON deltas. Apply never panics; what it
// accepts is a document, and it accepts exactly what the unit model says
// fits when the first is a document. The other operations never panic on
// the pair either.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`[{"insert":"a😀b\n"}]`), []byte(`[{"retain":1},{"delete":2},{"insert":"x"}]`))
	f.Add([]byte(`[{"insert":"😀\n"}]`), []byte(`[{"retain":1},{"insert":"x"}]`))
	f.Add([]byte(`[{"insert":"ab\n","attributes":{"bold":true}}]`), []byte(`[{"retain":3,"attributes":{"bold":null}}]`))
	f.Fuzz(func(t *testing.T, docJSON, editJSON []byte) {
		doc, err1 := ParseDelta(docJSON)
		edit, err2 := ParseDelta(editJSON)
		if err1 != nil || err2 != nil {
			return
		}
		got, err := Apply(doc, edit)
		if err == nil {
			if verr := ValidateDocument(got); verr != nil {
				t.Fatalf("Apply(%s, %s) = %s, not a document: %v", docJSON, editJSON, js(t, got), verr)
			}
		} else {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Apply: untyped error %v", err)
			}
		}
		if ValidateDocument(doc) == nil {
			want, fits := modelApply(doc, edit)
			if fits != (err == nil) {
				t.Fatalf("Apply(%s, %s) error %v, but the model says fits=%v", docJSON, editJSON, err, fits)
			}
			if fits && !Equal(Canonical(got), want) {
				t.Fatalf("Apply(%s, %s)\n got  %s\n want %s", docJSON, editJSON, js(t, got), js(t, want))
			}
			if fits {
				if back, err := Apply(got, Invert(edit, doc)); err != nil || !Equal(Canonical(back), Canonical(doc)) {
					t.Fatalf("Invert does not undo %s on %s: %v", editJSON, docJSON, err)
				}
			}
		}
		Compose(doc, edit)
		Transform(doc, edit, true)
		Transform(edit, doc, false)
		Invert(edit, doc)
		TransformPosition(edit, doc.Length(), true)
		TransformRange(edit, Range{Index: 1, Length: doc.Length()})
	})
}
