package ot

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ropeCheck fails t unless d keeps every invariant listed in rope_tree.go
// and at Doc: its tree, its hot leaf, and the tree with the hot leaf
// written in.
func ropeCheck(t testing.TB, d Doc) {
	t.Helper()
	if d.root == nil {
		t.Fatalf("zero Doc")
	}
	ropeCheckTree(t, d.root)
	h := &d.hot
	if h.leaf == nil {
		if h.stale != nil || h.off != 0 || d.n != d.root.n16 {
			t.Fatalf("no hot leaf, but stale %p, off %d, n %d (tree %d)", h.stale, h.off, d.n, d.root.n16)
		}
		return
	}
	var p ropePath
	if leaf, start, ok := p.find(d.root, h.off, 1); !ok || leaf != h.stale || start != h.off || (p.depth == 0) != (h.stale == d.root) {
		t.Fatalf("the stale leaf is not at off %d (found %v at %d, depth %d)", h.off, ok, start, p.depth)
	}
	var stack [16]ropeRun
	runs := h.runs(stack[:])
	n16, w := 0, 0
	for _, r := range runs {
		if r.embed == nil && (r.text == "" || !utf8.ValidString(r.text) || UTF16Len(r.text) != r.n16) {
			t.Fatalf("hot text run %q: n16 %d", r.text, r.n16)
		}
		n16 += r.n16
		w += r.weight()
	}
	if n16 != int(h.n) || w != int(h.w) || d.n != d.root.n16-h.stale.n16+n16 {
		t.Fatalf("hot leaf holds %d units weighing %d; n %d w %d; Len %d", n16, w, h.n, h.w, d.n)
	}
	if h.leaf.height != 0 || len(runs) == 0 || w > ropeMaxWeight || (h.stale != d.root && w < ropeMinWeight) {
		t.Fatalf("hot leaf of height %d, %d runs, weighs %d", h.leaf.height, len(runs), w)
	}
	if h.i >= 0 {
		i := int(h.i)
		if i >= len(h.leaf.runs) {
			t.Fatalf("grown run %d of %d", i, len(h.leaf.runs))
		}
		r := &h.leaf.runs[i]
		if r.embed != nil || UTF16Len(h.text) != int(h.n16) {
			t.Fatalf("grown run %q (%d units) of run %d %q", h.text, h.n16, i, r.text)
		}
		if h.start >= 0 && h.n16 > 0 && (h.buf == nil || unsafe.StringData(h.text) != &h.buf.b[h.start]) {
			t.Fatalf("grown run does not start at %d of the buffer", h.start)
		}
		if h.start < 0 && !strings.HasPrefix(r.text, h.text) {
			t.Fatalf("grown run %q is not a prefix of run %d %q", h.text, i, r.text)
		}
		end := int(h.n16)
		for _, r := range h.leaf.runs[:i] {
			end += r.n16
		}
		if end != int(h.end) {
			t.Fatalf("grown run ends at %d, end %d", end, h.end)
		}
		if h.cut16 > 0 && (i+1 >= len(h.leaf.runs) || UTF16Len(h.leaf.runs[i+1].text[:h.cutB]) != int(h.cut16)) {
			t.Fatalf("forward deletes cut %d bytes, %d units, from run %d", h.cutB, h.cut16, i+1)
		}
	} else if h.text != "" || h.i == ropeNoCursor && h.cut16 != 0 || h.i < ropeNoCursor {
		t.Fatalf("no grown run (%d), but text %q, cut %d", h.i, h.text, h.cut16)
	} else if h.i == -1 && (h.end != 0 || h.cut16 > 0 && UTF16Len(h.leaf.runs[0].text[:h.cutB]) != int(h.cut16)) {
		t.Fatalf("cursor before run 0 at %d, cut %d bytes, %d units", h.end, h.cutB, h.cut16)
	}
	tree := d.tree()
	ropeCheckTree(t, tree)
	if b := h.buf; b != nil {
		lo, hi := uintptr(unsafe.Pointer(&b.b[0])), uintptr(unsafe.Pointer(&b.b[len(b.b)-1]))
		tree.visit(0, tree.n16, func(r ropeRun) {
			if p := uintptr(unsafe.Pointer(unsafe.StringData(r.text))); r.text != "" && p >= lo && p <= hi {
				t.Fatalf("a tree leaf holds %q from the typing buffer", r.text)
			}
		})
	}
	if tree.n16 != d.n {
		t.Fatalf("Len %d, tree %d", d.n, tree.n16)
	}
}

func ropeCheckTree(t testing.TB, root *ropeNode) {
	t.Helper()
	leafDepth := -1
	var walk func(n *ropeNode, depth int, root bool) (astral bool)
	walk = func(n *ropeNode, depth int, root bool) bool {
		if cap(n.kids) != len(n.kids) || cap(n.runs) != len(n.runs) {
			t.Fatalf("node at depth %d: spare capacity invites appends into shared arrays", depth)
		}
		n16, nbytes, astral := 0, 0, false
		if n.height == 0 {
			if leafDepth < 0 {
				leafDepth = depth
			} else if leafDepth != depth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			if len(n.kids) != 0 || len(n.runs) == 0 {
				t.Fatalf("leaf at depth %d: %d kids, %d runs", depth, len(n.kids), len(n.runs))
			}
			if w := n.weight(); w > ropeMaxWeight || (!root && w < ropeMinWeight) {
				t.Fatalf("leaf at depth %d weighs %d, want [%d, %d]", depth, w, ropeMinWeight, ropeMaxWeight)
			}
			for i := range n.runs {
				r := &n.runs[i]
				if r.embed != nil {
					if r.text != "" || r.n16 != 1 {
						t.Fatalf("embed run with text %q, n16 %d", r.text, r.n16)
					}
				} else {
					if r.text == "" || !utf8.ValidString(r.text) || UTF16Len(r.text) != r.n16 {
						t.Fatalf("text run %q: n16 %d, valid %v", r.text, r.n16, utf8.ValidString(r.text))
					}
					if ropeHasAstral(r.text) {
						if !r.astral {
							t.Fatalf("run %q holds a surrogate pair but astral is false", r.text)
						}
						astral = true
					}
				}
				if r.attrs != nil && len(r.attrs) == 0 {
					t.Fatalf("empty non-nil attributes")
				}
				for k, v := range r.attrs {
					if v == nil {
						t.Fatalf("attribute %q is nil in a document", k)
					}
				}
				if i > 0 && n.runs[i-1].mergeable(r) {
					t.Fatalf("adjacent mergeable runs %q and %q in one leaf", n.runs[i-1].text, r.text)
				}
				n16 += r.n16
				nbytes += len(r.text)
			}
		} else {
			if len(n.runs) != 0 || len(n.kids) > ropeMaxKids || len(n.kids) < 2 || (!root && len(n.kids) < ropeMinKids) {
				t.Fatalf("internal node at depth %d (root %v) has %d kids, %d runs", depth, root, len(n.kids), len(n.runs))
			}
			if len(n.lens) != len(n.kids) || cap(n.lens) != len(n.lens) {
				t.Fatalf("internal node with %d kids, %d lens", len(n.kids), len(n.lens))
			}
			for i, k := range n.kids {
				if int(n.lens[i]) != k.n16 {
					t.Fatalf("lens[%d] = %d, kid has %d units", i, n.lens[i], k.n16)
				}
				if k.height != n.height-1 {
					t.Fatalf("kid height %d under height %d", k.height, n.height)
				}
				astral = walk(k, depth+1, false) || astral
				n16 += k.n16
				nbytes += k.nbytes
			}
		}
		if n16 != n.n16 || nbytes != n.nbytes {
			t.Fatalf("node at depth %d: n16 %d nbytes %d, sums %d %d", depth, n.n16, n.nbytes, n16, nbytes)
		}
		if astral && !n.astral {
			t.Fatalf("node at depth %d holds a surrogate pair but astral is false", depth)
		}
		return astral
	}
	walk(root, 0, true)
}

// ---- property tests: Doc against the Delta algebra ----
//
// The reference is Apply, Invert and Canonical on Delta documents. Every
// test walks seeded random cases and names the seed when it fails, with the
// command that reruns just that seed.

// ropeForSeeds runs f for seeds 0..n-1 as subtests "seed=N".
func ropeForSeeds(t *testing.T, n int, f func(t *testing.T, r *rand.Rand)) {
	t.Helper()
	for seed := range uint64(n) {
		r := rand.New(rand.NewPCG(seed, seed^0x5eed))
		if !t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) { f(t, r) }) {
			t.Fatalf("failed with seed %d (rerun: go test ./ot -run '%s/seed=%d$')", seed, t.Name(), seed)
		}
	}
}

func ropeJSON(tb testing.TB, d Delta) string {
	tb.Helper()
	b, err := d.MarshalJSON()
	if err != nil {
		tb.Fatalf("MarshalJSON: %v", err)
	}
	return string(b)
}

// ropeBigDoc returns a canonical random document of at least n units:
// random documents (formatted text, astral characters, embeds, lines)
// laid end to end.
func ropeBigDoc(r *rand.Rand, n int) Delta {
	var d Delta
	for d.Length() < n {
		d = append(d, randomDoc(r)...)
	}
	return Canonical(d)
}

// ropeUnitBoundaries reports for every unit offset 0..len(doc) whether an
// edit may place a boundary there (false inside a surrogate pair).
func ropeUnitBoundaries(doc Delta) []bool {
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

// ropeBoundaryIn returns a random boundary in [lo, hi] (hi is one).
func ropeBoundaryIn(r *rand.Rand, ok []bool, lo, hi int) int {
	p := lo + r.IntN(hi-lo+1)
	for !ok[p] {
		p++
	}
	return p
}

// ropeRefSlice is the units [from, to) of a document, cut op by op (both
// ends on boundaries), not normalized.
func ropeRefSlice(doc Delta, from, to int) Delta {
	var out Delta
	pos := 0
	for _, op := range doc {
		n := op.Len()
		a, z := max(from-pos, 0), min(to-pos, n)
		if a < z {
			if op.Embed != nil {
				out = append(out, op)
			} else {
				u := utf16.Encode([]rune(op.Insert))
				out = append(out, InsertText(string(utf16.Decode(u[a:z])), op.Attributes))
			}
		}
		pos += n
	}
	return out
}

// ropeEditAnywhere returns a random edit that fits doc, placed anywhere in
// it: a retain to a random boundary, then randomEdit on the rest.
func ropeEditAnywhere(r *rand.Rand, doc Delta) Delta {
	ok := ropeUnitBoundaries(doc)
	n := len(ok) - 1
	pos := ropeBoundaryIn(r, ok, 0, n-1)
	e := randomEdit(r, ropeRefSlice(doc, pos, n))
	if pos == 0 {
		return e
	}
	return append(Delta{Retain(pos, nil)}, e...)
}

// ropeTyper makes edits the way a person at a keyboard does: a cursor that
// types characters (sometimes formatted, sometimes astral, sometimes an
// embed), backspaces, deletes forward, selects and formats, and now and
// then jumps elsewhere. That is what keeps a Doc's hot leaf busy.
type ropeTyper struct {
	r      *rand.Rand
	cursor int
}

func (ty *ropeTyper) edit(doc Delta) Delta {
	r := ty.r
	ok := ropeUnitBoundaries(doc)
	n := len(ok) - 1 // the last unit is the final "\n"
	if ty.cursor >= n || !ok[ty.cursor] || r.IntN(40) == 0 {
		ty.cursor = ropeBoundaryIn(r, ok, 0, n-1)
	}
	at := func(p int, ops ...Op) Delta {
		if p == 0 {
			return Delta(ops)
		}
		return append(Delta{Retain(p, nil)}, ops...)
	}
	c := ty.cursor
	switch k := r.IntN(20); {
	case k < 10: // type a character
		s := randomPieces[r.IntN(len(randomPieces))]
		var attrs Attributes
		if r.IntN(8) == 0 {
			attrs = pickAttrs(r, randomInline)
		}
		if len(attrs) == 0 {
			attrs = nil
		}
		ty.cursor += UTF16Len(s)
		return at(c, InsertText(s, attrs))
	case k < 14 && c > 0: // backspace
		p := c - 1
		for !ok[p] {
			p--
		}
		ty.cursor = p
		return at(p, Delete(c-p))
	case k < 17 && c < n-1: // delete forward
		p := c + 1
		for !ok[p] {
			p++
		}
		if p >= n {
			return nil
		}
		return at(c, Delete(p-c))
	case k == 17: // an embed
		ty.cursor++
		return at(c, randomEmbedOp(r, nil))
	case k == 18 && c < n: // format the next few units
		p := ropeBoundaryIn(r, ok, c+1, min(c+8, n))
		return at(c, Retain(p-c, pickAttrs(r, randomRetainAttrs)))
	default: // move a little
		ty.cursor = ropeBoundaryIn(r, ok, max(c-5, 0), min(c+5, n-1))
		return nil
	}
}

// ropeFollow applies edits to a Doc and to its Delta reference side by
// side, checking after each that they agree (Delta, Len, Text,
// invariants), that Invert matches the reference and undoes, that Slice
// matches, and at the end that every earlier Doc still holds what it held.
func ropeFollow(t *testing.T, r *rand.Rand, ref Delta, steps int, next func(doc Delta) Delta) {
	t.Helper()
	d, err := DocFromDelta(ref)
	if err != nil {
		t.Fatalf("DocFromDelta(%s): %v", ropeJSON(t, ref), err)
	}
	type kept struct {
		doc  Doc
		json string
	}
	var snaps []kept
	for step := range steps {
		e := next(ref)
		if e == nil {
			continue
		}
		want, werr := Apply(ref, e)
		got, gerr := d.Apply(e)
		if werr != nil || gerr != nil {
			t.Fatalf("step %d: edit %s: Apply on Delta: %v, on Doc: %v", step, ropeJSON(t, e), werr, gerr)
		}
		if !Equal(got.Delta(), want) {
			t.Fatalf("step %d: edit %s on\n%s\ngave  %s\nwant %s", step, ropeJSON(t, e), ropeJSON(t, ref), ropeJSON(t, got.Delta()), ropeJSON(t, want))
		}
		if got.Len() != want.Length() || got.Text() != want.Text() {
			t.Fatalf("step %d: Len %d Text %q, want %d %q", step, got.Len(), got.Text(), want.Length(), want.Text())
		}
		ropeCheck(t, got)
		if r.IntN(4) == 0 {
			inv := d.Invert(e)
			if wantInv := Invert(e, ref); !Equal(inv, wantInv) {
				t.Fatalf("step %d: Invert(%s) = %s, want %s", step, ropeJSON(t, e), ropeJSON(t, inv), ropeJSON(t, wantInv))
			}
			back, err := got.Apply(inv)
			if err != nil || !Equal(back.Delta(), ref) {
				t.Fatalf("step %d: applying the inverse %s: %v, gave %s, want %s", step, ropeJSON(t, inv), err, ropeJSON(t, back.Delta()), ropeJSON(t, ref))
			}
		}
		if r.IntN(4) == 0 {
			ok := ropeUnitBoundaries(want)
			from := ropeBoundaryIn(r, ok, 0, len(ok)-1)
			to := ropeBoundaryIn(r, ok, from, len(ok)-1)
			if s, w := got.Slice(from, to), Canonical(ropeRefSlice(want, from, to)); !Equal(s, w) && !(len(s) == 0 && len(w) == 0) {
				t.Fatalf("step %d: Slice(%d, %d) = %s, want %s", step, from, to, ropeJSON(t, s), ropeJSON(t, w))
			}
		}
		if step%8 == 0 {
			snaps = append(snaps, kept{d, ropeJSON(t, ref)})
		}
		d, ref = got, want
	}
	for i, s := range snaps {
		if got := ropeJSON(t, s.doc.Delta()); got != s.json {
			t.Fatalf("snapshot %d changed after later edits:\n got %s\nwant %s", i, got, s.json)
		}
		ropeCheck(t, s.doc)
	}
}

// TestDocApplyMatchesDelta: small random documents (one leaf) and random
// edits anywhere.
func TestDocApplyMatchesDelta(t *testing.T) {
	ropeForSeeds(t, 400, func(t *testing.T, r *rand.Rand) {
		ropeFollow(t, r, randomDoc(r), 12, func(doc Delta) Delta { return ropeEditAnywhere(r, doc) })
	})
}

// TestDocApplyMatchesDeltaLarge: documents of several levels, random edits
// anywhere, so edits cross leaves and nodes, split and merge them.
func TestDocApplyMatchesDeltaLarge(t *testing.T) {
	ropeForSeeds(t, 8, func(t *testing.T, r *rand.Rand) {
		ropeFollow(t, r, ropeBigDoc(r, 3000+r.IntN(9000)), 80, func(doc Delta) Delta { return ropeEditAnywhere(r, doc) })
	})
}

// TestDocTyping: a typist on small and large documents, which exercises
// the hot leaf: typing in place, backspace, forward delete, jumps, leaf
// overflow while typing.
func TestDocTyping(t *testing.T) {
	ropeForSeeds(t, 16, func(t *testing.T, r *rand.Rand) {
		doc := randomDoc(r)
		if r.IntN(2) == 0 {
			doc = ropeBigDoc(r, 1500+r.IntN(3000))
		}
		ty := &ropeTyper{r: r}
		ropeFollow(t, r, doc, 400, ty.edit)
	})
}
