// Package storetest is the one conformance suite that every collab.Store
// implementation runs: what it tests is what the stores promise, the same
// on every database. Each store's package calls Run from its tests, and the
// Bench functions from its benchmarks.
//
// Test-only: it imports testing, collab, ot and package store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Backend is how the suite gets stores of one implementation.
type Backend struct {
	// Open returns a store on a new, empty database, and a function that
	// opens another store on the same database, as another server process
	// would. Open arranges that both are closed (at least once) and the
	// database removed when t ends.
	Open func(t testing.TB) (s collab.Store, openAgain func() collab.Store)

	// FailCommits makes the next n group commits of s fail after their
	// writes and before they commit (0 stops it): fault injection.
	FailCommits func(s collab.Store, n int)

	// SetUpdatedAt sets a document's last activity, so that the paging
	// test can make ties.
	SetUpdatedAt func(s collab.Store, doc collab.DocumentID, t time.Time)
}

// Run runs the suite against b. The subtests run in parallel, each on its
// own database.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, b Backend)
	}{
		{"Users", testUsers},
		{"UpsertUser", testUpsertUser},
		{"Tokens", testTokens},
		{"CreateDocument", testCreateDocument},
		{"CreateDocumentErrors", testCreateDocumentErrors},
		{"RenameDocument", testRenameDocument},
		{"DeleteDocument", testDeleteDocument},
		{"Members", testMembers},
		{"ListDocuments", testListDocuments},
		{"ListDocumentsTies", testListDocumentsTies},
		{"Append", testAppend},
		{"AppendErrors", testAppendErrors},
		{"AppendNothingOfAFailedCall", testAppendNothingOfFailedCall},
		{"AppendRace", testAppendRace},
		{"GroupCommitOneConflicts", testGroupCommitOneConflicts},
		{"BrokenCommitStoresNothing", testBrokenCommit},
		{"Contexts", testContexts},
		{"Snapshots", testSnapshots},
		{"PruneSnapshots", testPrune},
		{"History", testHistory},
		{"LargeDocument", testLargeDocument},
		{"Reopen", testReopen},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, b)
		})
	}
}

// ctx is the context of one test step: bounded, so a hang fails the test
// instead of the whole binary.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// wantCode fails t unless err carries code (checked with errors.Is against
// a sentinel of that code, as callers branch).
func wantCode(t testing.TB, err error, code collab.Code, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: err = nil, want %s", what, code)
		return
	}
	if !errors.Is(err, &collab.Error{Code: code}) {
		t.Errorf("%s: err = %v (code %s), want code %s", what, err, collab.ErrorCode(err), code)
	}
}

func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fixture is a store with one user, alice.
type fixture struct {
	s     collab.Store
	again func() collab.Store
	alice collab.User
	b     Backend
	n     int // ids made so far
}

func newFixture(t testing.TB, b Backend) *fixture {
	s, again := b.Open(t)
	f := &fixture{s: s, again: again, b: b}
	f.alice = f.user(t, "alice")
	return f
}

func (f *fixture) id(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-%03d-%s", prefix, f.n, collab.NewID()[:6])
}

func (f *fixture) user(t testing.TB, username string) collab.User {
	t.Helper()
	u, err := f.s.CreateUser(ctx(t), collab.User{ID: collab.UserID(f.id("u")), Username: username, Name: username}, []byte("hash of "+username))
	must(t, err, "create user "+username)
	return u
}

// doc creates a document owned by alice with the given text.
func (f *fixture) doc(t testing.TB, text string) collab.Document {
	t.Helper()
	d, err := f.s.CreateDocument(ctx(t), collab.Document{ID: collab.DocumentID(f.id("d")), Title: "title", Owner: f.alice.ID},
		collab.Snapshot{Doc: docOf(t, text)})
	must(t, err, "create document")
	return d
}

// docOf makes a document holding text and a final "\n".
func docOf(t testing.TB, text string) ot.Doc {
	t.Helper()
	d, err := ot.DocFromDelta(ot.Delta{ot.InsertText(text+"\n", nil)})
	must(t, err, "make document")
	return d
}

// insert is the delta inserting s at pos.
func insert(pos int, s string) ot.Delta {
	if pos == 0 {
		return ot.Delta{ot.InsertText(s, nil)}
	}
	return ot.Delta{ot.Retain(pos, nil), ot.InsertText(s, nil)}
}

// edit makes edit number v by client c with op number seq.
func edit(v int64, c string, seq int64, d ot.Delta) collab.Edit {
	return collab.Edit{Version: v, Client: collab.ClientID(c), Seq: seq, Author: "author-" + collab.UserID(c), Delta: d}
}

// jsonOf is the JSON of a delta, for exact comparisons.
func jsonOf(t testing.TB, d ot.Delta) string {
	t.Helper()
	b, err := d.MarshalJSON()
	must(t, err, "marshal delta")
	return string(b)
}

func docJSON(t testing.TB, d ot.Doc) string { return jsonOf(t, d.Delta()) }

// checkEdits compares stored edits with the ones appended.
func checkEdits(t testing.TB, got, want []collab.Edit, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d edits, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Version != w.Version || g.Client != w.Client || g.Seq != w.Seq || g.Author != w.Author {
			t.Errorf("%s: edit %d = (version %d, client %s, seq %d, author %s), want (%d, %s, %d, %s)",
				what, i, g.Version, g.Client, g.Seq, g.Author, w.Version, w.Client, w.Seq, w.Author)
		}
		if gj, wj := jsonOf(t, g.Delta), jsonOf(t, w.Delta); gj != wj {
			t.Errorf("%s: edit %d delta = %s, want %s", what, g.Version, gj, wj)
		}
		if g.CreatedAt.IsZero() || g.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: edit %d CreatedAt = %v, want a UTC time", what, g.Version, g.CreatedAt)
		}
	}
}

// checkTime fails unless got is a UTC time within a minute of now, in
// microseconds.
func checkTime(t testing.TB, got time.Time, what string) {
	t.Helper()
	if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 || time.Since(got).Abs() > time.Minute {
		t.Errorf("%s = %v, want a recent UTC time in microseconds", what, got)
	}
}
