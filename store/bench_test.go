package store_test

import (
	"testing"

	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/store/storetest"
)

// BenchmarkDecodeSnapshot1MiB is the floor under every Load of a large
// document, whatever the database: decoding its snapshot's JSON into an
// ot.Doc in one pass (ot.ParseDoc), as the stores do.
func BenchmarkDecodeSnapshot1MiB(b *testing.B) {
	doc, err := ot.DocFromDelta(storetest.LargeDelta(1 << 20))
	if err != nil {
		b.Fatal(err)
	}
	js, err := doc.Delta().MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ot.ParseDoc(js); err != nil {
			b.Fatal(err)
		}
	}
}
