package record

import (
	"errors"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/store/storetest"
)

func TestCursor(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	for _, id := range []collab.DocumentID{"abc", "with.dots.and-dash", "ü"} {
		c := Cursor(at, id)
		gotAt, gotID, ok, err := ParseCursor(c)
		if err != nil || !ok || !gotAt.Equal(at) || gotID != id {
			t.Errorf("ParseCursor(Cursor(%v, %q)) = %v, %q, %v, %v", at, id, gotAt, gotID, ok, err)
		}
	}
	if _, _, ok, err := ParseCursor(""); ok || err != nil {
		t.Errorf(`ParseCursor("") = ok %v, %v; want the start`, ok, err)
	}
	for _, bad := range []string{"!!", "bm9kb3Q", "eC5hYmM", "MTIzLg"} { // not base64, "nodot", "x.abc", "123."
		if _, _, _, err := ParseCursor(bad); collab.ErrorCode(err) != collab.BadRequest {
			t.Errorf("ParseCursor(%q) err = %v, want bad_request", bad, err)
		}
	}
}

func TestEncodeAppend(t *testing.T) {
	d := ot.Delta{ot.InsertText("x", nil)}
	e := func(v int64, c string, seq int64) collab.Edit {
		return collab.Edit{Version: v, Client: collab.ClientID(c), Seq: seq, Delta: d}
	}
	for _, tc := range []struct {
		name  string
		edits []collab.Edit
		code  collab.Code
	}{
		{"none", nil, collab.Invalid},
		{"version 0", []collab.Edit{e(0, "c", 1)}, collab.Invalid},
		{"a gap", []collab.Edit{e(1, "c", 1), e(3, "c", 2)}, collab.Invalid},
		{"one op twice", []collab.Edit{e(1, "c", 1), e(2, "c", 1)}, collab.Duplicate},
		{"fine", []collab.Edit{e(4, "c", 1), e(5, "c", 2), e(6, "d", 1)}, ""},
	} {
		r, err := EncodeAppend("doc", tc.edits)
		if got := collab.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", tc.name, got, err, tc.code)
		}
		if err == nil && (r.First != 4 || r.Last != 6 || len(r.Delta) != 3 || r.Delta[0] != `[{"insert":"x"}]` || r.Time[0].IsZero()) {
			t.Errorf("%s: rows %+v", tc.name, r)
		}
	}
}

func TestAppendOutcome(t *testing.T) {
	for _, tc := range []struct {
		found, deleted, dup bool
		current, first      int64
		code                collab.Code
	}{
		{false, false, false, 0, 1, collab.NotFound},
		{true, true, false, 0, 1, collab.NotFound},
		{true, false, true, 5, 3, collab.Duplicate}, // a stored op comes before the version
		{true, false, false, 5, 3, collab.Conflict},
		{true, false, false, 1, 3, collab.Invalid},
		{true, false, false, 2, 3, ""},
	} {
		err := AppendOutcome("doc", tc.found, tc.deleted, tc.dup, tc.current, tc.first)
		if got := collab.ErrorCode(err); got != tc.code {
			t.Errorf("AppendOutcome(%+v) = %v, want code %q", tc, err, tc.code)
		}
	}
}

// A stored document reads back as it was written; a stored edit, or
// anything else that is not a document, is an error that still says what
// ot found.
func TestDocRoundTrip(t *testing.T) {
	doc, err := ot.DocFromDelta(storetest.LargeDelta(64 << 10))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Doc(doc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := doc.Delta().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if s != string(want) {
		t.Fatalf("Doc wrote %d bytes that differ from the Delta's JSON (%d bytes)", len(s), len(want))
	}
	got, err := ParseDoc([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if !ot.Equal(got.Delta(), doc.Delta()) {
		t.Fatalf("ParseDoc(Doc(d)) differs from d")
	}
	for _, bad := range []string{`[{"retain":1}]`, `[{"insert":"no newline"}]`, `{`} {
		if _, err := ParseDoc([]byte(bad)); err == nil || !errors.As(err, new(*ot.Error)) {
			t.Errorf("ParseDoc(%s) = %v, want an *ot.Error", bad, err)
		}
	}
	if _, err := Doc(ot.Doc{}); collab.ErrorCode(err) != collab.Invalid {
		t.Errorf("Doc(zero Doc) = %v, want invalid", err)
	}
}

// BenchmarkParseDoc1MiB and BenchmarkDoc1MiB are a snapshot's decoding (in
// every Load) and encoding (in every SaveSnapshot).
func BenchmarkParseDoc1MiB(b *testing.B) {
	doc, err := ot.DocFromDelta(storetest.LargeDelta(1 << 20))
	if err != nil {
		b.Fatal(err)
	}
	s, err := Doc(doc)
	if err != nil {
		b.Fatal(err)
	}
	content := []byte(s)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDoc(content); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDoc1MiB(b *testing.B) {
	doc, err := ot.DocFromDelta(storetest.LargeDelta(1 << 20))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Doc(doc); err != nil {
			b.Fatal(err)
		}
	}
}
