package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
)

func testUsers(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	u, err := f.s.CreateUser(c, collab.User{ID: "u-bob", Username: "bob", Name: "Bob B", Color: "#123456"}, []byte{0, 1, 2, 255})
	must(t, err, "create bob")
	checkTime(t, u.CreatedAt, "bob's CreatedAt")

	got, err := f.s.User(c, "u-bob")
	must(t, err, "User(bob)")
	if got != u {
		t.Errorf("User(bob) = %+v, want %+v", got, u)
	}
	got, hash, err := f.s.UserByUsername(c, "bob")
	must(t, err, "UserByUsername(bob)")
	if got != u || !bytes.Equal(hash, []byte{0, 1, 2, 255}) {
		t.Errorf("UserByUsername(bob) = %+v, %v; want %+v, [0 1 2 255]", got, hash, u)
	}

	// An external user: no password hash; a colour is chosen when none is given.
	ext, err := f.s.CreateUser(c, collab.User{ID: "u-ext", Username: "ext", Name: "Ext"}, nil)
	must(t, err, "create external user")
	if ext.Color != collab.ColorFor("u-ext") {
		t.Errorf("colour = %q, want %q", ext.Color, collab.ColorFor("u-ext"))
	}
	_, hash, err = f.s.UserByUsername(c, "ext")
	must(t, err, "UserByUsername(ext)")
	if hash != nil {
		t.Errorf("hash of an external user = %v, want nil", hash)
	}

	_, err = f.s.CreateUser(c, collab.User{ID: "u-bob2", Username: "bob", Name: "Other Bob"}, nil)
	wantCode(t, err, collab.Duplicate, "create a second bob")
	_, err = f.s.CreateUser(c, collab.User{ID: "u-bob", Username: "bobby", Name: "Same id"}, nil)
	wantCode(t, err, collab.Duplicate, "create a user with bob's id")
	_, err = f.s.CreateUser(c, collab.User{ID: "", Username: "noid"}, nil)
	wantCode(t, err, collab.Invalid, "create a user without id")
	if _, _, err := f.s.UserByUsername(c, "bobby"); err == nil {
		t.Error("the failed create of bobby stored a user")
	}

	_, err = f.s.User(c, "u-nobody")
	wantCode(t, err, collab.NotFound, "User(unknown)")
	_, _, err = f.s.UserByUsername(c, "nobody")
	wantCode(t, err, collab.NotFound, "UserByUsername(unknown)")
}

func testUpsertUser(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	u, err := f.s.UpsertUser(c, collab.User{ID: "ext-1", Username: "ext:1", Name: "First", Color: "#000001"})
	must(t, err, "upsert new")
	checkTime(t, u.CreatedAt, "CreatedAt")
	if u.Name != "First" || u.Username != "ext:1" {
		t.Errorf("upserted %+v", u)
	}
	u2, err := f.s.UpsertUser(c, collab.User{ID: "ext-1", Username: "ext:1", Name: "Renamed", Color: "#000002"})
	must(t, err, "upsert existing")
	if u2.Name != "Renamed" || u2.Color != "#000002" || !u2.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("after update: %+v, want name Renamed, colour #000002, CreatedAt %v", u2, u.CreatedAt)
	}
	got, err := f.s.User(c, "ext-1")
	must(t, err, "User")
	if got != u2 {
		t.Errorf("User = %+v, want %+v", got, u2)
	}
	_, err = f.s.UpsertUser(c, collab.User{ID: "ext-2", Username: "alice", Name: "Not Alice"})
	wantCode(t, err, collab.Duplicate, "upsert a new user with alice's username")
}

func testTokens(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	bob := f.user(t, "bob")
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	t1 := collab.Token{ID: "t1", User: f.alice.ID, Name: "ci", Hash: []byte("hash-1"), CreatedAt: created}
	t2 := collab.Token{ID: "t2", User: f.alice.ID, Name: "laptop", Hash: []byte("hash-2"), CreatedAt: created.Add(time.Second)}
	must(t, f.s.CreateToken(c, t2), "create t2")
	must(t, f.s.CreateToken(c, t1), "create t1")
	must(t, f.s.CreateToken(c, collab.Token{ID: "t3", User: bob.ID, Name: "bob's", Hash: []byte("hash-3")}), "create t3")

	list, err := f.s.Tokens(c, f.alice.ID)
	must(t, err, "Tokens(alice)")
	if len(list) != 2 || list[0].ID != "t1" || list[1].ID != "t2" {
		t.Fatalf("Tokens(alice) = %+v, want t1, t2 (oldest first)", list)
	}
	if !list[0].CreatedAt.Equal(created) || !list[0].LastUsed.IsZero() || list[0].Name != "ci" || !bytes.Equal(list[0].Hash, []byte("hash-1")) {
		t.Errorf("t1 = %+v, want CreatedAt %v, never used", list[0], created)
	}

	now := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	tok, err := f.s.TokenByHash(c, []byte("hash-2"), now)
	must(t, err, "TokenByHash")
	if tok.ID != "t2" || tok.User != f.alice.ID || !tok.LastUsed.Equal(now) {
		t.Errorf("TokenByHash = %+v, want t2 of alice used at %v", tok, now)
	}
	list, _ = f.s.Tokens(c, f.alice.ID)
	if len(list) == 2 && !list[1].LastUsed.Equal(now) {
		t.Errorf("t2 LastUsed = %v after use, want %v", list[1].LastUsed, now)
	}
	_, err = f.s.TokenByHash(c, []byte("no such hash"), now)
	wantCode(t, err, collab.NotFound, "TokenByHash(unknown)")

	wantCode(t, f.s.RevokeToken(c, bob.ID, "t1"), collab.NotFound, "bob revokes alice's token")
	must(t, f.s.RevokeToken(c, f.alice.ID, "t1"), "revoke t1")
	_, err = f.s.TokenByHash(c, []byte("hash-1"), now)
	wantCode(t, err, collab.NotFound, "TokenByHash(revoked)")
	wantCode(t, f.s.RevokeToken(c, f.alice.ID, "t1"), collab.NotFound, "revoke t1 again")

	wantCode(t, f.s.CreateToken(c, collab.Token{ID: "t4", User: "u-nobody", Hash: []byte("hash-4")}), collab.NotFound, "token for an unknown user")
	wantCode(t, f.s.CreateToken(c, collab.Token{ID: "t5", User: bob.ID, Hash: []byte("hash-3")}), collab.Duplicate, "token with a taken hash")
	wantCode(t, f.s.CreateToken(c, collab.Token{ID: "t6", User: bob.ID}), collab.Invalid, "token without hash")
	list, err = f.s.Tokens(c, "u-nobody")
	if err != nil || len(list) != 0 {
		t.Errorf("Tokens(unknown user) = %v, %v; want none", list, err)
	}
}
