package ot

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// ropeBenchText returns n bytes of ASCII prose with a newline every ~60
// bytes, ending in "\n".
func ropeBenchText(n int) string {
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
	var sb strings.Builder
	sb.Grow(n)
	col := 0
	for sb.Len() < n-1 {
		c := words[sb.Len()%len(words)]
		if col >= 60 && c == ' ' {
			c, col = '\n', 0
		}
		sb.WriteByte(c)
		col++
	}
	sb.WriteByte('\n')
	return sb.String()
}

// ropeBenchDoc returns a plain document of n bytes, or a formatted one
// where every fourth word is bold and every line has a header format.
func ropeBenchDoc(tb testing.TB, n int, formatted bool) Doc {
	text := ropeBenchText(n)
	if !formatted {
		d, err := DocFromDelta(Delta{InsertText(text, nil)})
		if err != nil {
			tb.Fatal(err)
		}
		return d
	}
	bold, header := Attributes{"bold": true}, Attributes{"header": float64(1)}
	var doc Delta
	for i, w := range strings.SplitAfter(text, " ") {
		for line := range strings.SplitAfterSeq(w, "\n") {
			switch {
			case line == "":
			case strings.HasSuffix(line, "\n"):
				if len(line) > 1 {
					doc = append(doc, InsertText(line[:len(line)-1], nil))
				}
				doc = append(doc, InsertText("\n", header))
			case i%4 == 0:
				doc = append(doc, InsertText(line, bold))
			default:
				doc = append(doc, InsertText(line, nil))
			}
		}
	}
	d, err := DocFromDelta(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// benchmarkInsert applies one-character inserts at random positions to the
// same n-byte document (each Apply starts from it, so its size stays n).
func benchmarkInsert(b *testing.B, n int) {
	d := ropeBenchDoc(b, n, false)
	rng := rand.New(rand.NewPCG(1, 2))
	edits := make([]Delta, 1024)
	for i := range edits {
		edits[i] = Delta{Retain(rng.IntN(d.Len()), nil), InsertText("x", nil)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := d.Apply(edits[i%len(edits)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkInsert64KiB(b *testing.B) { benchmarkInsert(b, 64<<10) }
func BenchmarkInsert1MiB(b *testing.B)  { benchmarkInsert(b, 1<<20) }
func BenchmarkInsert16MiB(b *testing.B) { benchmarkInsert(b, 16<<20) }

// benchmarkInsertChain applies one-character inserts at random positions
// one after the other (each to the Doc the last returned), so each one
// also writes the previous hot leaf into the tree: a path copy. This is
// the full cost of an edit away from the last one.
func benchmarkInsertChain(b *testing.B, n int) {
	base := ropeBenchDoc(b, n, false)
	rng := rand.New(rand.NewPCG(1, 2))
	edits := make([]Delta, 1024)
	for i := range edits {
		edits[i] = Delta{Retain(rng.IntN(base.Len()-len(edits)), nil), InsertText("x", nil)}
	}
	b.ReportAllocs()
	d, i := base, 0
	for b.Loop() {
		if i%len(edits) == 0 {
			d = base // keep the size at n
		}
		var err error
		if d, err = d.Apply(edits[i%len(edits)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkInsertChain64KiB(b *testing.B) { benchmarkInsertChain(b, 64<<10) }
func BenchmarkInsertChain1MiB(b *testing.B)  { benchmarkInsertChain(b, 1<<20) }
func BenchmarkInsertChain16MiB(b *testing.B) { benchmarkInsertChain(b, 16<<20) }

// BenchmarkInsertTyping1MiB types at the cursor of a 1 MiB document: the
// keystroke after the first is applied in place, with no allocation.
func BenchmarkInsertTyping1MiB(b *testing.B) {
	d := ropeBenchDoc(b, 1<<20, false)
	const burst = 64 // then start again from the same Doc
	edits := make([]Delta, burst)
	for i := range edits {
		edits[i] = Delta{Retain(500000+i, nil), InsertText("x", nil)}
	}
	b.ReportAllocs()
	t, i := d, 0
	for b.Loop() {
		if i%burst == 0 {
			t = d
		}
		var err error
		if t, err = t.Apply(edits[i%burst]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDelete1MiB deletes one character at random positions.
func BenchmarkDelete1MiB(b *testing.B) {
	d := ropeBenchDoc(b, 1<<20, false)
	rng := rand.New(rand.NewPCG(1, 2))
	edits := make([]Delta, 1024)
	for i := range edits {
		edits[i] = Delta{Retain(rng.IntN(d.Len()-1), nil), Delete(1)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := d.Apply(edits[i%len(edits)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFormatWord1MiB makes a word-sized range bold in a formatted
// document.
func BenchmarkFormatWord1MiB(b *testing.B) {
	d := ropeBenchDoc(b, 1<<20, true)
	rng := rand.New(rand.NewPCG(1, 2))
	edits := make([]Delta, 1024)
	for i := range edits {
		edits[i] = Delta{Retain(rng.IntN(d.Len()-8), nil), Retain(6, Attributes{"italic": true})}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := d.Apply(edits[i%len(edits)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchmarkWhole(b *testing.B, formatted bool, f func(Doc)) {
	d := ropeBenchDoc(b, 1<<20, formatted)
	b.SetBytes(int64(d.root.nbytes))
	b.ReportAllocs()
	for b.Loop() {
		f(d)
	}
}

func BenchmarkDelta1MiB(b *testing.B) { benchmarkWhole(b, false, func(d Doc) { d.Delta() }) }
func BenchmarkDelta1MiBFormatted(b *testing.B) {
	benchmarkWhole(b, true, func(d Doc) { d.Delta() })
}
func BenchmarkText1MiB(b *testing.B) { benchmarkWhole(b, true, func(d Doc) { d.Text() }) }
func BenchmarkMarshalJSON1MiB(b *testing.B) {
	benchmarkWhole(b, false, func(d Doc) {
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	})
}
func BenchmarkMarshalJSON1MiBFormatted(b *testing.B) {
	benchmarkWhole(b, true, func(d Doc) {
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkDocFromDelta1MiB builds a document from one 1 MiB insert.
func BenchmarkDocFromDelta1MiB(b *testing.B) {
	doc := Delta{InsertText(ropeBenchText(1<<20), nil)}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DocFromDelta(doc); err != nil {
			b.Fatal(err)
		}
	}
}
