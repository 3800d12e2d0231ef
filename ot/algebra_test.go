package ot

import (
	"errors"
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf16"
)

// The laws of the algebra, checked on seeded random documents and edits
// (random_test.go) against an independent model: a document as a slice of
// UTF-16 units. A failure prints its seed and how to rerun just that case.

// lawSeeds is how many random cases each law gets per run.
const lawSeeds = 3000

// mustDelta parses a delta written in a test, or stops the test.
func mustDelta(tb testing.TB, s string) Delta {
	tb.Helper()
	d, err := ParseDelta([]byte(s))
	if err != nil {
		tb.Fatalf("ParseDelta(%s): %v", s, err)
	}
	return d
}

// js is a delta's JSON for messages and comparisons.
func js(tb testing.TB, d Delta) string {
	tb.Helper()
	b, err := d.MarshalJSON()
	if err != nil {
		tb.Fatalf("MarshalJSON(%#v): %v", d, err)
	}
	return string(b)
}

// unit is one UTF-16 code unit of a document in the model, or one embed.
type unit struct {
	c     uint16 // a code unit; surrogate halves stay separate
	embed *Embed
	attrs Attributes
}

func modelUnits(doc Delta) []unit {
	var us []unit
	for _, op := range doc {
		if op.Embed != nil {
			us = append(us, unit{embed: op.Embed, attrs: op.Attributes})
			continue
		}
		for _, c := range utf16.Encode([]rune(op.Insert)) {
			us = append(us, unit{c: c, attrs: op.Attributes})
		}
	}
	return us
}

// modelDelta turns units back into a canonical document.
func modelDelta(us []unit) Delta {
	var d Delta
	var run []uint16
	var runAttrs Attributes
	flush := func() {
		if len(run) > 0 {
			d = append(d, InsertText(string(utf16.Decode(run)), runAttrs))
			run = nil
		}
	}
	for _, u := range us {
		if u.embed != nil {
			flush()
			d = append(d, InsertEmbed(u.embed.Key, u.embed.Value, u.attrs))
			continue
		}
		if len(run) > 0 && !sameAttrs(runAttrs, u.attrs) {
			flush()
		}
		if len(run) == 0 {
			runAttrs = u.attrs
		}
		run = append(run, u.c)
	}
	flush()
	return d
}

// modelFormat applies a retain's formats to a unit's: set what is not nil,
// remove what is nil.
func modelFormat(have, set Attributes) Attributes {
	out := maps.Clone(have)
	if out == nil {
		out = Attributes{}
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// modelApply is Apply written the obvious way, on units. It reports
// whether the edit fits (no surrogate split, nothing past the end, final
// "\n" kept).
func modelApply(doc, edit Delta) (Delta, bool) {
	in := modelUnits(doc)
	var out []unit
	pos := 0
	isLow := func(i int) bool {
		return i < len(in) && in[i].embed == nil && utf16.IsSurrogate(rune(in[i].c)) && in[i].c >= 0xDC00
	}
	for _, op := range edit {
		switch op.Kind() {
		case KindInsert:
			if isLow(pos) {
				return nil, false
			}
			attrs := modelFormat(nil, op.Attributes)
			out = append(out, modelUnits(Delta{{Insert: op.Insert, Embed: op.Embed, Attributes: attrs}})...)
		case KindRetain, KindDelete:
			n := op.Retain + op.Delete
			if pos+n > len(in) || isLow(pos) || isLow(pos+n) {
				return nil, false
			}
			if op.Kind() == KindRetain {
				for _, u := range in[pos : pos+n] {
					u.attrs = modelFormat(u.attrs, op.Attributes)
					out = append(out, u)
				}
			}
			pos += n
		}
	}
	out = append(out, in[pos:]...)
	if len(out) == 0 || out[len(out)-1].embed != nil || out[len(out)-1].c != '\n' {
		return nil, false
	}
	return modelDelta(out), true
}

// forSeeds runs f for lawSeeds seeds, each as the subtest "seed=N", and
// stops at the first failure.
func forSeeds(t *testing.T, f func(t *testing.T, r *rand.Rand)) {
	t.Helper()
	n := lawSeeds
	if testing.Short() {
		n /= 10
	}
	for seed := range uint64(n) {
		r := rand.New(rand.NewPCG(seed, seed))
		if !t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) { f(t, r) }) {
			t.Fatalf("failed with seed %d (rerun: go test ./ot -run '%s/seed=%d$')", seed, t.Name(), seed)
		}
	}
}

func mustApply(t *testing.T, doc, edit Delta) Delta {
	t.Helper()
	out, err := Apply(doc, edit)
	if err != nil {
		t.Fatalf("Apply:\n doc  %s\n edit %s\n: %v", js(t, doc), js(t, edit), err)
	}
	return out
}

func TestLawApplyMatchesModel(t *testing.T) { forSeeds(t, lawApplyMatchesModel) }

func lawApplyMatchesModel(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	edit := randomEdit(r, doc)
	want, ok := modelApply(doc, edit)
	if !ok {
		t.Fatalf("randomEdit made an edit that does not fit:\n doc  %s\n edit %s", js(t, doc), js(t, edit))
	}
	got := mustApply(t, doc, edit)
	if !Equal(got, want) {
		t.Fatalf("Apply:\n doc  %s\n edit %s\n got  %s\n want %s", js(t, doc), js(t, edit), js(t, got), js(t, want))
	}
	if err := ValidateDocument(got); err != nil {
		t.Fatalf("Apply result is not a document: %v\n %s", err, js(t, got))
	}
}

func TestLawComposeIsSequentialApply(t *testing.T) { forSeeds(t, lawComposeIsSequentialApply) }

func lawComposeIsSequentialApply(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	a := randomEdit(r, doc)
	da := mustApply(t, doc, a)
	b := randomEdit(r, da)
	want := mustApply(t, da, b)
	ab := Compose(a, b)
	got := mustApply(t, doc, ab)
	if !Equal(got, want) {
		t.Fatalf("Apply(doc, Compose(a, b)) != Apply(Apply(doc, a), b)\n doc %s\n a   %s\n b   %s\n a·b %s\n got  %s\n want %s",
			js(t, doc), js(t, a), js(t, b), js(t, ab), js(t, got), js(t, want))
	}
	// Composing onto a document is applying it.
	if cd := Compose(da, b); !Equal(cd, want) {
		t.Fatalf("Compose(doc, edit) != Apply(doc, edit):\n doc %s\n edit %s\n got  %s\n want %s", js(t, da), js(t, b), js(t, cd), js(t, want))
	}
}

func TestLawTransformConverges(t *testing.T) { forSeeds(t, lawTransformConverges) }

func lawTransformConverges(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	a := randomEdit(r, doc)
	b := randomEdit(r, doc)
	da := mustApply(t, doc, a)
	db := mustApply(t, doc, b)
	for _, pri := range []bool{true, false} {
		b2 := Transform(a, b, pri)
		a2 := Transform(b, a, !pri)
		left := mustApply(t, da, b2)
		right := mustApply(t, db, a2)
		if !Equal(left, right) {
			t.Fatalf("no convergence (priority %v):\n doc %s\n a   %s\n b   %s\n b'  %s\n a'  %s\n doc·a·b' %s\n doc·b·a' %s",
				pri, js(t, doc), js(t, a), js(t, b), js(t, b2), js(t, a2), js(t, left), js(t, right))
		}
		// The same diamond through compose: a·b' == b·a'.
		if l, r := Compose(a, b2), Compose(b, a2); !Equal(mustApply(t, doc, l), mustApply(t, doc, r)) {
			t.Fatalf("a·b' and b·a' differ:\n %s\n %s", js(t, l), js(t, r))
		}
	}
}

func TestLawInvertUndoes(t *testing.T) { forSeeds(t, lawInvertUndoes) }

func lawInvertUndoes(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	e := randomEdit(r, doc)
	inv := Invert(e, doc)
	back := mustApply(t, mustApply(t, doc, e), inv)
	if !Equal(back, doc) {
		t.Fatalf("Invert does not undo:\n doc  %s\n edit %s\n inv  %s\n back %s", js(t, doc), js(t, e), js(t, inv), js(t, back))
	}
	// And the inverse of the inverse does the edit again.
	de := mustApply(t, doc, e)
	if again := mustApply(t, doc, Invert(inv, de)); !Equal(again, de) {
		t.Fatalf("Invert(Invert(e)) != e:\n doc %s\n edit %s\n got %s\n want %s", js(t, doc), js(t, e), js(t, again), js(t, de))
	}
}

// A marker inserted at a position moves through a transform exactly as
// TransformPosition moves the position. The priorities are opposite: with
// priority TransformPosition keeps the position in front of an insert at
// it, which is the marker's insert going first, i.e. Transform without
// priority. The edit is canonical: quill's transformPosition reads ops in
// order, so for [delete, insert] (which push would have made [insert,
// delete]) a position inside the deleted text lands after the insert, while
// a marker there lands before it.
func TestLawTransformPositionFollowsText(t *testing.T) { forSeeds(t, lawTransformPositionFollowsText) }

func lawTransformPositionFollowsText(t *testing.T, r *rand.Rand) {
	marker := InsertEmbed("marker", []byte(`true`), nil)
	doc := randomDoc(r)
	a := Canonical(randomEdit(r, doc))
	p := r.IntN(doc.Length()) // a marker may go anywhere before the final "\n"
	m := Delta{Retain(p, nil), marker}
	if p == 0 {
		m = m[1:]
	}
	for _, pri := range []bool{true, false} {
		got := TransformPosition(a, p, pri)
		mt := Transform(a, m, !pri)
		want := 0
		if len(mt) == 2 {
			want = mt[0].Retain
		}
		if got != want {
			t.Fatalf("TransformPosition(a, %d, %v) = %d, but the marker lands at %d\n doc %s\n a   %s\n m'  %s",
				p, pri, got, want, js(t, doc), js(t, a), js(t, mt))
		}
	}
	// A range moves both ends without priority and stays in the document.
	end := p + r.IntN(doc.Length()-p+1)
	rg := TransformRange(a, Range{Index: p, Length: end - p})
	if rg.Index != TransformPosition(a, p, false) || rg.Index+rg.Length != TransformPosition(a, end, false) || rg.Length < 0 {
		t.Fatalf("TransformRange(a, %d..%d) = %+v\n a %s", p, end, rg, js(t, a))
	}
	if after := mustApply(t, doc, a).Length(); rg.Index+rg.Length > after {
		t.Fatalf("TransformRange(a, %d..%d) = %+v is past the end (%d)\n a %s", p, end, rg, after, js(t, a))
	}
}

func TestLawCanonical(t *testing.T) { forSeeds(t, lawCanonical) }

func lawCanonical(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	e := randomEdit(r, doc)
	c := Canonical(e)
	if cc := Canonical(c); !Equal(c, cc) {
		t.Fatalf("Canonical not idempotent:\n %s\n %s\n %s", js(t, e), js(t, c), js(t, cc))
	}
	if !Equal(mustApply(t, doc, c), mustApply(t, doc, e)) {
		t.Fatalf("Canonical changes what the edit does:\n %s\n %s", js(t, e), js(t, c))
	}
	if !Equal(Canonical(doc), doc) {
		t.Fatalf("a generated document is not canonical: %s", js(t, doc))
	}
	// Splitting every op in two and canonicalizing gives the same JSON.
	var split Delta
	for _, op := range e {
		if op.Kind() == KindRetain && op.Retain > 1 {
			k := 1 + r.IntN(op.Retain-1)
			split = append(split, Retain(k, op.Attributes), Retain(op.Retain-k, op.Attributes))
		} else {
			split = append(split, op)
		}
	}
	if js(t, Canonical(split)) != js(t, c) {
		t.Fatalf("split edit canonicalizes differently:\n %s\n %s", js(t, Canonical(split)), js(t, c))
	}
}

func TestLawJSONRoundTrip(t *testing.T) { forSeeds(t, lawJSONRoundTrip) }

func lawJSONRoundTrip(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	for _, d := range []Delta{doc, randomEdit(r, doc)} {
		b1, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseDelta(b1)
		if err != nil {
			t.Fatalf("ParseDelta(%s): %v", b1, err)
		}
		if !Equal(p, d) {
			t.Fatalf("round trip changed the delta:\n %s\n %s", b1, js(t, p))
		}
		if b2 := js(t, p); b2 != string(b1) {
			t.Fatalf("JSON not stable:\n %s\n %s", b1, b2)
		}
		if err := ValidateEdit(p); err != nil {
			t.Fatalf("ValidateEdit(%s): %v", b1, err)
		}
	}
}

// Edits that do not fit are refused with the right error, and the model
// agrees that they do not fit.
func TestLawApplyRefusesMisfits(t *testing.T) { forSeeds(t, lawApplyRefusesMisfits) }

func lawApplyRefusesMisfits(t *testing.T, r *rand.Rand) {
	doc := randomDoc(r)
	n := doc.Length()
	ok := docBoundaries(doc)
	var edit Delta
	var want error
	switch r.IntN(4) {
	case 0: // past the end
		edit, want = Delta{Retain(n+1+r.IntN(5), nil)}, ErrDoesNotFit
	case 1: // the final "\n"
		if us := modelUnits(doc); n > 1 && us[n-2].embed == nil && us[n-2].c == '\n' {
			return // deleting one of two final newlines leaves a document
		}
		edit, want = Delta{Retain(n-1, nil), Delete(1)}, ErrDoesNotFit
		if n == 1 {
			edit = edit[1:]
		}
	case 2: // after the final "\n"
		edit, want = Delta{Retain(n, nil), InsertText("x", nil)}, ErrDoesNotFit
	case 3: // inside a surrogate pair
		var inside []int
		for i, b := range ok {
			if !b {
				inside = append(inside, i)
			}
		}
		if len(inside) == 0 {
			return
		}
		p := inside[r.IntN(len(inside))]
		switch r.IntN(3) {
		case 0:
			edit = Delta{Retain(p, nil), InsertText("x", nil)}
		case 1:
			edit = Delta{Retain(p-1, nil), Delete(1)}
			if p == 1 {
				edit = edit[1:]
			}
		case 2:
			edit = Delta{Retain(p, Attributes{"bold": true})}
		}
		want = ErrSplitsSurrogate
	}
	if _, fits := modelApply(doc, edit); fits {
		t.Fatalf("model says %s fits %s", js(t, edit), js(t, doc))
	}
	_, err := Apply(doc, edit)
	if !errors.Is(err, want) {
		t.Fatalf("Apply(%s, %s) = %v, want %v", js(t, doc), js(t, edit), err, want)
	}
}
