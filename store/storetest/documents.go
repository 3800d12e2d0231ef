package storetest

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
)

func testCreateDocument(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d, err := f.s.CreateDocument(c, collab.Document{ID: "doc-1", Title: "Plans", Owner: f.alice.ID},
		collab.Snapshot{Doc: docOf(t, "hello")})
	must(t, err, "create")
	if d.ID != "doc-1" || d.Title != "Plans" || d.Owner != f.alice.ID || d.Version != 0 {
		t.Errorf("created %+v", d)
	}
	checkTime(t, d.CreatedAt, "CreatedAt")
	if !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", d.UpdatedAt, d.CreatedAt)
	}
	got, err := f.s.Document(c, "doc-1")
	must(t, err, "Document")
	if got != d {
		t.Errorf("Document = %+v, want %+v", got, d)
	}
	role, err := f.s.Role(c, "doc-1", f.alice.ID)
	if err != nil || role != collab.Owner {
		t.Errorf("owner's role = %q, %v; want owner", role, err)
	}
	snap, edits, err := f.s.Load(c, "doc-1")
	must(t, err, "Load")
	if snap.Version != 0 || len(edits) != 0 || snap.Doc.Text() != "hello\n" {
		t.Errorf("Load = version %d, %q, %d edits; want version 0, \"hello\\n\", none", snap.Version, snap.Doc.Text(), len(edits))
	}
	checkTime(t, snap.CreatedAt, "snapshot CreatedAt")

	// The zero snapshot is the empty document.
	_, err = f.s.CreateDocument(c, collab.Document{ID: "doc-empty", Owner: f.alice.ID}, collab.Snapshot{})
	must(t, err, "create with the zero snapshot")
	snap, _, err = f.s.Load(c, "doc-empty")
	must(t, err, "Load(doc-empty)")
	if snap.Doc.Text() != "\n" {
		t.Errorf("empty document = %q, want \"\\n\"", snap.Doc.Text())
	}
	_, err = f.s.Document(c, "doc-unknown")
	wantCode(t, err, collab.NotFound, "Document(unknown)")
}

func testCreateDocumentErrors(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "first")
	_, err := f.s.CreateDocument(c, collab.Document{ID: d.ID, Title: "again", Owner: f.alice.ID}, collab.Snapshot{Doc: docOf(t, "second")})
	wantCode(t, err, collab.Duplicate, "create with a taken id")
	snap, _, err := f.s.Load(c, d.ID)
	if err != nil || snap.Doc.Text() != "first\n" {
		t.Errorf("after a duplicate create, content = %q, %v; want the first", snap.Doc.Text(), err)
	}

	_, err = f.s.CreateDocument(c, collab.Document{ID: "doc-orphan", Owner: "u-nobody"}, collab.Snapshot{Doc: docOf(t, "x")})
	wantCode(t, err, collab.NotFound, "create owned by an unknown user")
	_, err = f.s.Document(c, "doc-orphan")
	wantCode(t, err, collab.NotFound, "Document after a failed create")

	_, err = f.s.CreateDocument(c, collab.Document{ID: "doc-v1", Owner: f.alice.ID}, collab.Snapshot{Version: 1, Doc: docOf(t, "x")})
	wantCode(t, err, collab.Invalid, "create with an initial snapshot at version 1")
	_, err = f.s.CreateDocument(c, collab.Document{Owner: f.alice.ID}, collab.Snapshot{Doc: docOf(t, "x")})
	wantCode(t, err, collab.Invalid, "create without id")
}

func testRenameDocument(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "x")
	r, err := f.s.RenameDocument(c, d.ID, "New title ✓")
	must(t, err, "rename")
	if r.Title != "New title ✓" || r.UpdatedAt.Before(d.UpdatedAt) || !r.CreatedAt.Equal(d.CreatedAt) || r.Owner != d.Owner {
		t.Errorf("renamed = %+v, from %+v", r, d)
	}
	got, _ := f.s.Document(c, d.ID)
	if got != r {
		t.Errorf("Document after rename = %+v, want %+v", got, r)
	}
	_, err = f.s.RenameDocument(c, "doc-unknown", "x")
	wantCode(t, err, collab.NotFound, "rename unknown")
}

func testDeleteDocument(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	bob := f.user(t, "bob")
	d := f.doc(t, "x")
	must(t, f.s.SetMember(c, d.ID, bob.ID, collab.Editor), "share")
	must(t, f.s.Append(c, d.ID, []collab.Edit{edit(1, "c1", 1, insert(0, "a"))}), "append")
	must(t, f.s.DeleteDocument(c, d.ID), "delete")

	_, err := f.s.Document(c, d.ID)
	wantCode(t, err, collab.NotFound, "Document")
	_, err = f.s.Role(c, d.ID, f.alice.ID)
	wantCode(t, err, collab.NotFound, "Role")
	_, err = f.s.Members(c, d.ID)
	wantCode(t, err, collab.NotFound, "Members")
	_, _, err = f.s.Load(c, d.ID)
	wantCode(t, err, collab.NotFound, "Load")
	_, err = f.s.Edits(c, d.ID, 1, 10)
	wantCode(t, err, collab.NotFound, "Edits")
	_, err = f.s.EditBySeq(c, d.ID, "c1", 1)
	wantCode(t, err, collab.NotFound, "EditBySeq")
	_, err = f.s.SnapshotAt(c, d.ID, 1)
	wantCode(t, err, collab.NotFound, "SnapshotAt")
	wantCode(t, f.s.Append(c, d.ID, []collab.Edit{edit(2, "c1", 2, insert(0, "b"))}), collab.NotFound, "Append")
	wantCode(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 1, Doc: docOf(t, "ax")}), collab.NotFound, "SaveSnapshot")
	wantCode(t, f.s.PruneSnapshots(c, d.ID, collab.PrunePolicy{KeepLatest: 1}), collab.NotFound, "PruneSnapshots")
	_, err = f.s.RenameDocument(c, d.ID, "y")
	wantCode(t, err, collab.NotFound, "RenameDocument")
	wantCode(t, f.s.SetMember(c, d.ID, bob.ID, collab.Viewer), collab.NotFound, "SetMember")
	wantCode(t, f.s.RemoveMember(c, d.ID, bob.ID), collab.NotFound, "RemoveMember")
	wantCode(t, f.s.DeleteDocument(c, d.ID), collab.NotFound, "DeleteDocument again")
	wantCode(t, f.s.DeleteDocument(c, "doc-unknown"), collab.NotFound, "DeleteDocument(unknown)")
	for _, u := range []collab.UserID{f.alice.ID, bob.ID} {
		docs, _, err := f.s.ListDocuments(c, u, collab.Page{})
		if err != nil || len(docs) != 0 {
			t.Errorf("ListDocuments(%s) = %d documents, %v; want none", u, len(docs), err)
		}
	}
}

func testMembers(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	bob, carol := f.user(t, "bob"), f.user(t, "carol")
	d := f.doc(t, "x")
	must(t, f.s.SetMember(c, d.ID, carol.ID, collab.Viewer), "add carol")
	must(t, f.s.SetMember(c, d.ID, bob.ID, collab.Viewer), "add bob")
	must(t, f.s.SetMember(c, d.ID, bob.ID, collab.Editor), "make bob editor")

	members, err := f.s.Members(c, d.ID)
	must(t, err, "Members")
	var got []string
	for _, m := range members {
		got = append(got, fmt.Sprintf("%s:%s", m.User.Username, m.Role))
	}
	if want := []string{"alice:owner", "bob:editor", "carol:viewer"}; !slices.Equal(got, want) {
		t.Errorf("Members = %v, want %v (by username)", got, want)
	}
	if len(members) == 3 && members[1].User != bob {
		t.Errorf("member bob = %+v, want %+v", members[1].User, bob)
	}
	for u, want := range map[collab.UserID]collab.Role{f.alice.ID: collab.Owner, bob.ID: collab.Editor, carol.ID: collab.Viewer} {
		if r, err := f.s.Role(c, d.ID, u); err != nil || r != want {
			t.Errorf("Role(%s) = %q, %v; want %s", u, r, err, want)
		}
	}

	must(t, f.s.RemoveMember(c, d.ID, carol.ID), "remove carol")
	_, err = f.s.Role(c, d.ID, carol.ID)
	wantCode(t, err, collab.NotFound, "Role of a removed member")
	wantCode(t, f.s.RemoveMember(c, d.ID, carol.ID), collab.NotFound, "remove carol again")
	wantCode(t, f.s.SetMember(c, d.ID, carol.ID, "admin"), collab.Invalid, "SetMember with an unknown role")
	wantCode(t, f.s.SetMember(c, d.ID, "u-nobody", collab.Viewer), collab.NotFound, "SetMember of an unknown user")
	wantCode(t, f.s.SetMember(c, "doc-unknown", carol.ID, collab.Viewer), collab.NotFound, "SetMember on an unknown document")
	_, err = f.s.Role(c, "doc-unknown", f.alice.ID)
	wantCode(t, err, collab.NotFound, "Role on an unknown document")
	_, err = f.s.Members(c, "doc-unknown")
	wantCode(t, err, collab.NotFound, "Members of an unknown document")
}

func testListDocuments(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	bob := f.user(t, "bob")
	var ids []collab.DocumentID
	for range 5 {
		ids = append(ids, f.doc(t, "x").ID)
	}
	other, err := f.s.CreateDocument(c, collab.Document{ID: "doc-bobs", Owner: bob.ID}, collab.Snapshot{})
	must(t, err, "bob's document")
	must(t, f.s.SetMember(c, ids[1], bob.ID, collab.Viewer), "share with bob")

	// An edit is activity: ids[0] moves to the front.
	must(t, f.s.Append(c, ids[0], []collab.Edit{edit(1, "c", 1, insert(0, "a"))}), "append")
	docs, next, err := f.s.ListDocuments(c, f.alice.ID, collab.Page{})
	must(t, err, "ListDocuments")
	if next != "" {
		t.Errorf("next cursor = %q on the only page, want none", next)
	}
	if len(docs) != 5 {
		t.Fatalf("alice sees %d documents, want 5", len(docs))
	}
	if docs[0].ID != ids[0] || docs[0].Version != 1 || docs[0].Role != collab.Owner {
		t.Errorf("first = %s (version %d, role %s), want %s (version 1, owner), the one just edited", docs[0].ID, docs[0].Version, docs[0].Role, ids[0])
	}
	checkOrder(t, docs)

	bobs, _, err := f.s.ListDocuments(c, bob.ID, collab.Page{})
	must(t, err, "ListDocuments(bob)")
	var got []string
	for _, d := range bobs {
		got = append(got, fmt.Sprintf("%s:%s", d.ID, d.Role))
	}
	sort.Strings(got)
	want := []string{string(other.ID) + ":owner", string(ids[1]) + ":viewer"}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("bob sees %v, want %v", got, want)
	}

	_, _, err = f.s.ListDocuments(c, f.alice.ID, collab.Page{Cursor: "not a cursor"})
	wantCode(t, err, collab.BadRequest, "ListDocuments with a bad cursor")
	none, next, err := f.s.ListDocuments(c, "u-nobody", collab.Page{})
	if err != nil || len(none) != 0 || next != "" {
		t.Errorf("ListDocuments(unknown user) = %d, %q, %v; want nothing", len(none), next, err)
	}
}

// checkOrder fails unless docs are newest activity first, ties by id.
func checkOrder(t testing.TB, docs []collab.DocumentAccess) {
	t.Helper()
	for i := 1; i < len(docs); i++ {
		a, b := docs[i-1], docs[i]
		if a.UpdatedAt.Before(b.UpdatedAt) || a.UpdatedAt.Equal(b.UpdatedAt) && a.ID >= b.ID {
			t.Errorf("documents %d and %d out of order: (%v, %s) then (%v, %s)", i-1, i, a.UpdatedAt, a.ID, b.UpdatedAt, b.ID)
		}
	}
}

// Paging by cursor through documents with equal activity times returns
// each exactly once, in order, whatever the page size.
func testListDocumentsTies(t *testing.T, b Backend) {
	if b.SetUpdatedAt == nil {
		t.Fatal("Backend.SetUpdatedAt is needed to make ties")
	}
	f := newFixture(t, b)
	c := ctx(t)
	base := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	var want []collab.DocumentID
	// Three groups of equal times, 17 documents.
	for i := range 17 {
		d := f.doc(t, "x")
		b.SetUpdatedAt(f.s, d.ID, base.Add(-time.Duration(i%3)*time.Microsecond))
	}
	all, _, err := f.s.ListDocuments(c, f.alice.ID, collab.Page{Limit: 100})
	must(t, err, "list all")
	if len(all) != 17 {
		t.Fatalf("listed %d documents, want 17", len(all))
	}
	checkOrder(t, all)
	for _, d := range all {
		want = append(want, d.ID)
	}
	for _, limit := range []int{1, 2, 3, 5, 16, 17} {
		var got []collab.DocumentID
		cursor, pages := "", 0
		for {
			docs, next, err := f.s.ListDocuments(c, f.alice.ID, collab.Page{Limit: limit, Cursor: cursor})
			must(t, err, fmt.Sprintf("page %d of %d", pages, limit))
			if len(docs) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(docs))
			}
			for _, d := range docs {
				got = append(got, d.ID)
			}
			pages++
			if next == "" || pages > 20 {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: paged %v, want %v", limit, got, want)
		}
		if wantPages := (17 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d (no empty last page)", limit, pages, wantPages)
		}
	}
}
