package ot

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Table tests for Doc: edits at leaf and node boundaries of documents deep
// enough to have several levels, formats splitting runs, embeds, astral
// characters next to leaf boundaries, errors, JSON, sharing.

// ropeMustDoc builds a Doc or stops the test.
func ropeMustDoc(tb testing.TB, d Delta) Doc {
	tb.Helper()
	doc, err := DocFromDelta(d)
	if err != nil {
		tb.Fatalf("DocFromDelta(%s): %v", ropeJSON(tb, d), err)
	}
	return doc
}

// ropeBoundaries returns the units where leaves start (leaf) and where
// children of internal nodes above the leaves start (node), 0 excluded.
func ropeBoundaries(root *ropeNode) (leaf, node []int) {
	var walk func(n *ropeNode, off int)
	walk = func(n *ropeNode, off int) {
		for i, k := range n.kids {
			if i > 0 {
				if k.height == 0 {
					leaf = append(leaf, off)
				} else {
					node = append(node, off)
				}
			}
			walk(k, off)
			off += k.n16
		}
	}
	walk(root, 0)
	return leaf, node
}

// ropeCheckEdit applies edit to doc as a Doc and as a Delta and compares
// the results, errors included (by kind).
func ropeCheckEdit(t *testing.T, name string, d Doc, ref, edit Delta) {
	t.Helper()
	want, werr := Apply(ref, edit)
	got, gerr := d.Apply(edit)
	switch {
	case werr != nil || gerr != nil:
		if werr == nil || gerr == nil || !errors.Is(gerr, errors.Unwrap(werr)) {
			t.Fatalf("%s: edit %s: Doc.Apply error %v, Apply error %v", name, ropeJSON(t, edit), gerr, werr)
		}
		var e *Error
		if !errors.As(gerr, &e) {
			t.Fatalf("%s: error %v is not an *Error", name, gerr)
		}
		if got != d {
			t.Fatalf("%s: a failed Apply returned another Doc", name)
		}
	case !Equal(got.Delta(), want):
		t.Fatalf("%s: edit %s gave %.300s, want %.300s", name, ropeJSON(t, edit), ropeJSON(t, got.Delta()), ropeJSON(t, want))
	default:
		ropeCheck(t, got)
	}
	if !Equal(d.Delta(), ref) {
		t.Fatalf("%s: the Doc applied to changed", name)
	}
}

func TestDocLeafAndNodeBoundaries(t *testing.T) {
	// Plain text deep enough for three levels, then the same with formats
	// and embeds, and with astral characters everywhere.
	plain := ropeBenchText(100 << 10)
	var rich Delta
	for i, w := range strings.SplitAfter(plain[:60<<10], " ") {
		switch {
		case i%7 == 0:
			rich = append(rich, InsertText(w, Attributes{"bold": true}))
		case i%13 == 0:
			rich = append(rich, InsertEmbed("image", json.RawMessage(`"x.png"`), nil), InsertText(w, nil))
		default:
			rich = append(rich, InsertText(w, nil))
		}
	}
	rich = Canonical(append(rich, InsertText("\n", nil)))
	emoji := strings.Repeat("a😀b𝒳 ", 4000) + "\n"
	docs := map[string]Delta{
		"plain": {InsertText(plain, nil)},
		"rich":  rich,
		"emoji": {InsertText(emoji, nil)},
	}
	for name, ref := range docs {
		t.Run(name, func(t *testing.T) {
			d := ropeMustDoc(t, ref)
			if d.root.height < 2 {
				t.Fatalf("height %d: the document is too small to test node boundaries", d.root.height)
			}
			leaf, node := ropeBoundaries(d.root)
			if len(node) == 0 {
				t.Fatalf("no node boundaries")
			}
			n := d.Len()
			var cases []int
			for i := 0; i < len(leaf); i += max(len(leaf)/12, 1) {
				cases = append(cases, leaf[i])
			}
			for i := 0; i < len(node); i += max(len(node)/12, 1) {
				cases = append(cases, node[i])
			}
			for _, b := range cases {
				for _, e := range []Delta{
					{Retain(b, nil), InsertText("X", nil)},
					{Retain(b, nil), InsertText("😀", Attributes{"italic": true})},
					{Retain(b-1, nil), Delete(2)},
					{Retain(b-1, nil), Delete(1)},
					{Retain(b, nil), Delete(1)},
					{Retain(b-3, nil), Delete(min(700, n-b))},
					{Retain(b-2, nil), Retain(4, Attributes{"bold": true})},
					{Retain(b-2, nil), Retain(4, Attributes{"bold": nil})},
					{Retain(b-1, nil), InsertText("Y", nil), Delete(2)},
					{Retain(b, nil), InsertEmbed("image", json.RawMessage(`"y.png"`), nil)},
					{Retain(b+1, nil), InsertText("Z", nil)}, // inside a pair in "emoji" docs
					{Retain(b+1, Attributes{"bold": true})},
				} {
					ropeCheckEdit(t, name, d, ref, e)
				}
			}
		})
	}
}

func TestDocFormatSplitsRuns(t *testing.T) {
	bold := Attributes{"bold": true}
	ref := Delta{InsertText("hello ", nil), InsertText("big bold world", bold), InsertText("\n", Attributes{"header": float64(1)})}
	d := ropeMustDoc(t, ref)
	for name, e := range map[string]Delta{
		"unbold the middle":        {Retain(10, nil), Retain(4, Attributes{"bold": nil})},
		"bold across two runs":     {Retain(3, nil), Retain(6, bold)},
		"already bold: no change":  {Retain(8, nil), Retain(4, bold)},
		"remove what is not there": {Retain(1, Attributes{"italic": nil})},
		"two formats at once":      {Retain(6, nil), Retain(3, Attributes{"bold": nil, "color": "#f00"})},
		"line format":              {Retain(20, nil), Retain(1, Attributes{"header": nil, "list": "bullet"})},
		"format then insert":       {Retain(2, bold), InsertText("!", nil)},
		"delete a whole run":       {Retain(6, nil), Delete(14)},
	} {
		ropeCheckEdit(t, name, d, ref, e)
	}
	// A format that changes nothing keeps the very same tree.
	same, err := d.Apply(Delta{Retain(8, nil), Retain(4, bold)})
	if err != nil || same.root != d.root {
		t.Fatalf("a format changing nothing built a new tree (err %v)", err)
	}
}

func TestDocEmbeds(t *testing.T) {
	img := func(s string) Op { return InsertEmbed("image", json.RawMessage(`"`+s+`"`), nil) }
	ref := Delta{InsertText("a", nil), img("1"), img("2"), InsertText("b", Attributes{"bold": true}), img("3"), InsertText("\n", nil)}
	d := ropeMustDoc(t, ref)
	if d.Text() != "ab\n" || d.Len() != 6 {
		t.Fatalf("Text %q Len %d, want %q 6", d.Text(), d.Len(), "ab\n")
	}
	for name, e := range map[string]Delta{
		"delete an embed":         {Retain(1, nil), Delete(1)},
		"delete both embeds":      {Retain(1, nil), Delete(2)},
		"format an embed":         {Retain(2, nil), Retain(1, Attributes{"width": "10"})},
		"insert between embeds":   {Retain(2, nil), InsertText("x", nil)},
		"embed with formats":      {Retain(5, nil), InsertEmbed("video", json.RawMessage(`{"src":"v"}`), Attributes{"align": "center"})},
		"replace text with embed": {img("0"), Delete(1)},
		"delete last before nl":   {Retain(4, nil), Delete(1)},
	} {
		ropeCheckEdit(t, name, d, ref, e)
	}
}

func TestDocErrors(t *testing.T) {
	ref := Delta{InsertText("a😀b", nil), InsertText("\n", nil)} // units: a, pair, b, \n
	d := ropeMustDoc(t, ref)
	for name, c := range map[string]struct {
		edit Delta
		want error
	}{
		"retain past the end":    {Delta{Retain(6, nil)}, ErrDoesNotFit},
		"delete past the end":    {Delta{Retain(3, nil), Delete(3)}, ErrDoesNotFit},
		"delete the final nl":    {Delta{Retain(4, nil), Delete(1)}, ErrDoesNotFit},
		"insert after the end":   {Delta{Retain(5, nil), InsertText("x", nil)}, ErrDoesNotFit},
		"insert inside a pair":   {Delta{Retain(2, nil), InsertText("x", nil)}, ErrSplitsSurrogate},
		"delete half a pair":     {Delta{Retain(1, nil), Delete(1)}, ErrSplitsSurrogate},
		"delete from the middle": {Delta{Retain(2, nil), Delete(1)}, ErrSplitsSurrogate},
		"retain into a pair":     {Delta{Retain(2, nil)}, ErrSplitsSurrogate},
		"format half a pair":     {Delta{Retain(1, nil), Retain(1, Attributes{"bold": true})}, ErrSplitsSurrogate},
		"zero op":                {Delta{{}}, ErrMalformed},
		"negative retain":        {Delta{Retain(-1, nil)}, ErrMalformed},
		"insert and retain":      {Delta{{Insert: "x", Retain: 1}}, ErrMalformed},
		"delete with formats":    {Delta{{Delete: 1, Attributes: Attributes{"bold": true}}}, ErrMalformed},
		"NaN format":             {Delta{Retain(1, Attributes{"size": math.NaN()})}, ErrMalformed},
		"invalid UTF-8":          {Delta{InsertText("\xff", nil)}, ErrInvalidUTF8},
		"too long":               {Delta{Retain(MaxLen+1, nil)}, ErrTooLarge},
		"misfit then malformed":  {Delta{Retain(9, nil), InsertText("\xff", nil)}, ErrInvalidUTF8},
	} {
		got, err := d.Apply(c.edit)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", name, err, c.want)
		}
		if _, rerr := Apply(ref, c.edit); !errors.Is(rerr, c.want) {
			t.Errorf("%s: Apply on Delta says %v, want %v", name, rerr, c.want)
		}
		if got != d || !Equal(d.Delta(), Canonical(ref)) {
			t.Errorf("%s: a failed Apply changed something", name)
		}
	}
	var zero Doc
	if _, err := zero.Apply(Delta{InsertText("x", nil)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Apply on the zero Doc: %v, want ErrMalformed", err)
	}
	if zero.Len() != 0 || zero.Text() != "" || len(zero.Delta()) != 0 || len(zero.Slice(0, 5)) != 0 || len(zero.Invert(Delta{Delete(1)})) != 0 {
		t.Errorf("zero Doc: Len %d Text %q Delta %v", zero.Len(), zero.Text(), zero.Delta())
	}
}

func TestDocFromDelta(t *testing.T) {
	if got := NewDoc().Delta(); !Equal(got, Delta{InsertText("\n", nil)}) {
		t.Fatalf("NewDoc().Delta() = %s", ropeJSON(t, got))
	}
	for name, c := range map[string]struct {
		doc  Delta
		want error
	}{
		"empty":             {Delta{}, ErrDoesNotFit},
		"no final newline":  {Delta{InsertText("a", nil)}, ErrDoesNotFit},
		"embed last":        {Delta{InsertText("\n", nil), InsertEmbed("image", json.RawMessage(`"x"`), nil)}, ErrDoesNotFit},
		"a retain":          {Delta{Retain(1, nil), InsertText("\n", nil)}, ErrMalformed},
		"a null format":     {Delta{InsertText("a\n", Attributes{"bold": nil})}, ErrMalformed},
		"invalid UTF-8":     {Delta{InsertText("\xc3\n", nil)}, ErrInvalidUTF8},
		"encoded surrogate": {Delta{InsertText("\xed\xa0\x80\n", nil)}, ErrInvalidUTF8},
	} {
		if _, err := DocFromDelta(c.doc); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// Non-canonical input comes out canonical.
	d := ropeMustDoc(t, Delta{InsertText("a", nil), InsertText("b", Attributes{}), InsertText("c\n", nil)})
	if got := d.Delta(); !Equal(got, Delta{InsertText("abc\n", nil)}) {
		t.Fatalf("Delta() = %s, want one op", ropeJSON(t, got))
	}
}

func TestDocJSON(t *testing.T) {
	ropeForSeeds(t, 100, func(t *testing.T, r *rand.Rand) {
		ref := randomDoc(r)
		if r.IntN(4) == 0 {
			ref = ropeBigDoc(r, 5000)
		}
		d := ropeMustDoc(t, ref)
		b, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if want := ropeJSON(t, ref); string(b) != want {
			t.Fatalf("MarshalJSON = %.200s, want %.200s", b, want)
		}
		viaJSON, err1 := json.Marshal(d)
		want, err2 := json.Marshal(ref)
		if err1 != nil || err2 != nil || string(viaJSON) != string(want) {
			t.Fatalf("json.Marshal(Doc) = %.200s, %v; want %.200s, %v", viaJSON, err1, want, err2)
		}
		var back Doc
		if err := json.Unmarshal(b, &back); err != nil || !Equal(back.Delta(), ref) {
			t.Fatalf("round trip: %v, %.200s", err, ropeJSON(t, back.Delta()))
		}
		wrapped := []byte(`{"ops":` + string(b) + `}`)
		if err := back.UnmarshalJSON(wrapped); err != nil || !Equal(back.Delta(), ref) {
			t.Fatalf(`{"ops":[...]}: %v`, err)
		}
	})
	d := NewDoc()
	for _, bad := range []string{`[{"insert":"x"}]`, `[{"retain":1}]`, `nope`, `[{"insert":"\ud800\n"}]`} {
		if err := d.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted it", bad)
		}
		if d.Text() != "\n" {
			t.Errorf("UnmarshalJSON(%s) changed the Doc on error", bad)
		}
	}
}

// TestDocMisfits: random edits that do not fit get the same kind of error
// from Doc.Apply as from Apply, and change nothing.
func TestDocMisfits(t *testing.T) {
	ropeForSeeds(t, 300, func(t *testing.T, r *rand.Rand) {
		ref := randomDoc(r)
		if r.IntN(3) == 0 {
			ref = ropeBigDoc(r, 3000)
		}
		d := ropeMustDoc(t, ref)
		ok := ropeUnitBoundaries(ref)
		n := len(ok) - 1
		var e Delta
		switch r.IntN(5) {
		case 0:
			e = append(ropeEditAnywhere(r, ref), Retain(n+1, nil))
		case 1:
			e = Delta{Retain(n-1, nil), Delete(1)}
		case 2:
			e = Delta{Retain(n, nil), InsertText("x", nil)}
		case 3:
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
			e = [][]Op{
				{Retain(p, nil), InsertText("x", nil)},
				{Retain(p-1, nil), Delete(1)},
				{Retain(p, Attributes{"bold": true})},
				{Retain(p, nil)},
			}[r.IntN(4)]
		case 4:
			e = append(ropeEditAnywhere(r, ref), Op{Retain: -1})
		}
		ropeCheckEdit(t, "misfit", d, ref, e)
	})
}

// TestDocSharing: Docs are values: two edits of one Doc, even typing at
// the same spot (where the typed-text buffer can serve only one of them in
// place), on goroutines of their own, give two correct Docs and leave the
// first unchanged.
func TestDocSharing(t *testing.T) {
	base := ropeMustDoc(t, Delta{InsertText(ropeBenchText(8<<10), nil)})
	// Make a grown run at 100, then branch from it.
	base, _ = base.Apply(Delta{Retain(100, nil), InsertText("x", nil)})
	base, _ = base.Apply(Delta{Retain(101, nil), InsertText("y", nil)})
	ref := base.Delta()
	const workers = 4
	var wg sync.WaitGroup
	results := make([]Doc, workers)
	for w := range workers {
		wg.Go(func() {
			d := base
			for i := range 300 {
				c := string(rune('a' + w))
				var err error
				if d, err = d.Apply(Delta{Retain(102+i, nil), InsertText(c, nil)}); err != nil {
					t.Error(err)
					return
				}
				_ = base.Text() // read the shared Doc while others type into its buffer
			}
			results[w] = d
		})
	}
	wg.Wait()
	for w, d := range results {
		want := ref[0].Insert[:102] + strings.Repeat(string(rune('a'+w)), 300) + ref[0].Insert[102:]
		if d.Text() != want {
			t.Errorf("worker %d: text differs at %d", w, ropeFirstDiff(d.Text(), want))
		}
		ropeCheck(t, d)
	}
	if !Equal(base.Delta(), ref) {
		t.Fatalf("the shared Doc changed")
	}
}

// TestDocAllocs: typing and backspacing at the cursor allocate nothing; a
// keystroke elsewhere in a large document copies a leaf and a path, a
// bounded number of allocations whatever the size.
func TestDocAllocs(t *testing.T) {
	d := ropeMustDoc(t, Delta{InsertText(ropeBenchText(1<<20), nil)})
	d, _ = d.Apply(Delta{Retain(5000, nil), InsertText("x", nil)})
	pos := 5001
	typing := testing.AllocsPerRun(100, func() {
		var err error
		if d, err = d.Apply(Delta{Retain(pos, nil), InsertText("y", nil)}); err != nil {
			t.Fatal(err)
		}
		if d, err = d.Apply(Delta{Retain(pos, nil), Delete(1)}); err != nil {
			t.Fatal(err)
		}
	})
	// The edits are built in the closure: 2 allocations each.
	if typing > 4 {
		t.Errorf("typing at the cursor: %v allocations per keystroke pair, want only the edits' 4", typing)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	edits := make([]Delta, 200)
	for i := range edits {
		edits[i] = Delta{Retain(rng.IntN(d.Len()), nil), InsertText("z", nil)}
	}
	i := 0
	jump := testing.AllocsPerRun(len(edits)-1, func() {
		if _, err := d.Apply(edits[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if jump > 12 {
		t.Errorf("a keystroke elsewhere: %v allocations, want at most 12", jump)
	}
}

// TestDocCursor walks the keystrokes the hot leaf applies in place through
// their edge cases: typing, backspacing a typed run away and typing again,
// backspacing into older text, forward deletes through the next run and
// into the leaf after, typing with other formats, astral text, two Docs
// typing at the same spot of one buffer.
func TestDocCursor(t *testing.T) {
	bold := Attributes{"bold": true}
	ref := Delta{InsertText(ropeBenchText(4<<10), nil), InsertText("BOLD", bold), InsertText(ropeBenchText(4<<10), nil)}
	d := ropeMustDoc(t, Canonical(ref))
	ref = d.Delta()
	at := func(p int, ops ...Op) Delta { return append(Delta{Retain(p, nil)}, ops...) }
	steps := []Delta{
		at(1000, InsertText("a", nil)),
		at(1001, InsertText("b", nil)),
		at(1001, Delete(1)),
		at(1000, Delete(1)), // the typed run is empty now
		at(1000, InsertText("c", nil)),
		at(1001, InsertText("😀", nil)),
		at(1001, Delete(2)),
		at(1000, Delete(1)),
		at(999, Delete(1)), // into the older text
		at(998, Delete(2)),
		at(996, InsertText("d", bold)), // other formats
		at(997, InsertText("e", nil)),
		at(998, Delete(1)), // forward
		at(998, Delete(3)),
		at(998, Delete(1)),
		at(998, InsertText("f", nil)),
	}
	// Forward deletes through a whole run and past the end of a leaf.
	leaf, _ := ropeBoundaries(d.root)
	b := leaf[3]
	for i := range 8 {
		steps = append(steps, at(b-4, Delete(1)))
		if i == 5 {
			steps = append(steps, at(b-4, InsertText("g", nil)))
		}
	}
	steps = append(steps, at(4<<10-2, Delete(1)), at(4<<10-2, Delete(1)), at(4<<10-2, Delete(2)), at(4<<10-2, InsertText("h", bold)))
	var kept []Doc
	var keptRef []Delta
	for i, e := range steps {
		want, err := Apply(ref, e)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := d.Apply(e)
		if err != nil || !Equal(got.Delta(), want) {
			t.Fatalf("step %d %s: %v, %.200s", i, ropeJSON(t, e), err, ropeJSON(t, got.Delta()))
		}
		ropeCheck(t, got)
		// A second branch from the same Doc types at the same spot.
		if e[len(e)-1].Insert != "" {
			other, err := d.Apply(at(e[0].Retain, InsertText("Z", nil)))
			w2, _ := Apply(ref, at(e[0].Retain, InsertText("Z", nil)))
			if err != nil || !Equal(other.Delta(), w2) {
				t.Fatalf("step %d: the other branch: %v", i, err)
			}
		}
		kept, keptRef = append(kept, d), append(keptRef, ref)
		d, ref = got, want
	}
	for i := range kept {
		if !Equal(kept[i].Delta(), keptRef[i]) {
			t.Fatalf("the Doc before step %d changed", i)
		}
	}
}

// FuzzDocApply: whatever document and edit decode, Doc.Apply agrees with
// Apply (result, or the kind of error), and Invert, Slice and Text never
// panic.
func FuzzDocApply(f *testing.F) {
	f.Add([]byte(`[{"insert":"hello\n"}]`), []byte(`[{"retain":2},{"insert":"X","attributes":{"bold":true}},{"delete":1}]`), 1, 3)
	f.Add([]byte(`[{"insert":"a😀b"},{"insert":{"image":"x"}},{"insert":"\n","attributes":{"header":1}}]`), []byte(`[{"retain":2,"attributes":{"bold":true}}]`), 0, 9)
	f.Add([]byte(`[{"insert":"ab\n"}]`), []byte(`[{"retain":3},{"insert":"x"}]`), -1, 2)
	f.Fuzz(func(t *testing.T, docJSON, editJSON []byte, from, to int) {
		doc, err := ParseDelta(docJSON)
		if err != nil {
			return
		}
		d, derr := DocFromDelta(doc)
		if verr := ValidateDocument(doc); (verr == nil) != (derr == nil) {
			t.Fatalf("DocFromDelta: %v, ValidateDocument: %v", derr, verr)
		}
		if derr != nil {
			return
		}
		doc = Canonical(doc)
		if !Equal(d.Delta(), doc) {
			t.Fatalf("DocFromDelta(%s).Delta() = %s", docJSON, ropeJSON(t, d.Delta()))
		}
		_ = d.Slice(from, to)
		edit, err := ParseDelta(editJSON)
		if err != nil {
			return
		}
		_ = d.Invert(edit)
		got, gerr := d.Apply(edit)
		want, werr := Apply(doc, edit)
		if (gerr == nil) != (werr == nil) || werr != nil && !errors.Is(gerr, errors.Unwrap(werr)) {
			t.Fatalf("Apply(%s, %s): Doc %v, Delta %v", docJSON, editJSON, gerr, werr)
		}
		if werr != nil {
			return
		}
		if !Equal(got.Delta(), want) || got.Text() != want.Text() {
			t.Fatalf("Apply(%s, %s) = %s, want %s", docJSON, editJSON, ropeJSON(t, got.Delta()), ropeJSON(t, want))
		}
		if inv := d.Invert(edit); !Equal(inv, Invert(edit, doc)) {
			t.Fatalf("Invert = %s, want %s", ropeJSON(t, inv), ropeJSON(t, Invert(edit, doc)))
		}
		ropeCheck(t, got)
	})
}

func TestRopeKindOf(t *testing.T) {
	e := &Embed{Key: "image"}
	for _, op := range []Op{
		{}, {Insert: "a"}, {Embed: e}, {Insert: "a", Embed: e}, {Retain: 1}, {Retain: -1}, {Delete: 1}, {Delete: -1},
		{Retain: 1, Delete: 1}, {Retain: 1, Insert: "a"}, {Delete: 1, Embed: e}, {Retain: -1, Insert: "a"}, {Delete: -1, Embed: e},
		{Retain: 2, Attributes: Attributes{"b": true}}, {Delete: 1, Retain: -1},
	} {
		if got, want := ropeKindOf(&op), op.Kind(); got != want {
			t.Errorf("ropeKindOf(%+v) = %v, want %v", op, got, want)
		}
	}
}

func TestDocSliceAndNullFormats(t *testing.T) {
	d := ropeMustDoc(t, Delta{InsertText("a😀b\n", nil)})
	for _, c := range []struct {
		from, to int
		want     string
	}{
		{0, 5, "a😀b\n"}, {0, 1, "a"}, {1, 3, "😀"}, {2, 3, "😀"}, {1, 2, "😀"}, {2, 2, ""}, {-5, 1, "a"}, {4, 99, "\n"}, {3, 1, ""},
	} {
		if got := d.Slice(c.from, c.to).Text(); got != c.want {
			t.Errorf("Slice(%d, %d) = %q, want %q (an end inside a pair takes the pair)", c.from, c.to, got, c.want)
		}
	}
	// A null format on an insert is no format, as Apply on Deltas has it.
	ref := Delta{InsertText("ab\n", Attributes{"bold": true})}
	d = ropeMustDoc(t, ref)
	e := Delta{Retain(1, nil), InsertText("x", Attributes{"bold": nil, "italic": true})}
	ropeCheckEdit(t, "null format on insert", d, ref, e)
	got, _ := d.Apply(e)
	if ops := got.Delta(); len(ops) != 3 || !Equal(ops[1:2], Delta{InsertText("x", Attributes{"italic": true})}) {
		t.Fatalf("got %s", ropeJSON(t, ops))
	}
}
