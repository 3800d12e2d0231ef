package ot

import (
	"math/rand/v2"
	"testing"
)

// Hot paths: every op a client sends is parsed, transformed past the edits
// it missed and marshalled for fan-out. Targets: Transform and Compose of
// small edits under 1 µs with a few allocations; ParseDelta of a small op
// a handful of allocations.
//
//	go test ./ot -run='^$' -bench='Small' -benchmem -count=5

var (
	benchA = Delta{Retain(500, nil), InsertText("x", nil)}
	benchB = Delta{Retain(200, nil), Delete(3)}
	benchC = Delta{Retain(501, nil), InsertText("y", Attributes{"bold": true})}
	// Kept in package variables so the compiler cannot drop the calls.
	benchSinkDelta Delta
	benchSinkBytes []byte
)

func BenchmarkTransformSmall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchSinkDelta = Transform(benchA, benchB, true)
	}
}

func BenchmarkComposeSmall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchSinkDelta = Compose(benchA, benchC)
	}
}

func BenchmarkParseDeltaSmall(b *testing.B) {
	in := []byte(`[{"retain":500},{"insert":"x","attributes":{"bold":true}}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d, err := ParseDelta(in)
		if err != nil {
			b.Fatal(err)
		}
		benchSinkDelta = d
	}
}

func BenchmarkMarshalDeltaSmall(b *testing.B) {
	d := Delta{Retain(500, nil), InsertText("x", Attributes{"bold": true})}
	b.ReportAllocs()
	for b.Loop() {
		out, err := d.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		benchSinkBytes = out
	}
}

func BenchmarkTransformPositionSmall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if TransformPosition(benchA, 600, false) != 601 {
			b.Fatal("wrong position")
		}
	}
}

// A typed character against a 200-op document held as a Delta (the server
// holds documents as ot.Doc; this is the reference path).
func BenchmarkApplyDocument(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var doc Delta
	for len(doc) < 200 {
		doc = append(doc, randomDoc(r)...)
	}
	doc = Canonical(doc)
	edit := Delta{Retain(doc.Length()/2, nil), InsertText("x", nil)}
	if _, err := Apply(doc, edit); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		benchSinkDelta, _ = Apply(doc, edit)
	}
}

// An edit transformed past a queue of 50 random concurrent edits, as a
// session catches up a late op.
func BenchmarkTransformQueue(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	doc := randomDoc(r)
	var queue []Delta
	d := doc
	for range 50 {
		e := Canonical(randomEdit(r, d))
		queue = append(queue, e)
		d, _ = Apply(d, e)
	}
	op := Canonical(randomEdit(r, doc))
	b.ReportAllocs()
	for b.Loop() {
		x := op
		for _, e := range queue {
			x = Transform(e, x, true)
		}
		benchSinkDelta = x
	}
}
