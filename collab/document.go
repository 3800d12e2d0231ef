package collab

import (
	"time"

	"github.com/collabd/collabd/ot"
)

// Ids are opaque strings. Documents and users get random ids from NewID;
// clients pick their own ClientID (random per editor tab, stable across its
// reconnects).
type (
	DocumentID string
	UserID     string
	ClientID   string
)

// Role is what a user may do with a document. Each role can do everything
// the ones before it can: a viewer reads and receives live edits, an editor
// also edits, an owner also shares, renames and deletes.
type Role string

const (
	Viewer Role = "viewer"
	Editor Role = "editor"
	Owner  Role = "owner"
)

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Editor:
		return 2
	case Owner:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a user with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// User is an account: built in (signed up with a password) or external
// (identified by an app's JWT; then ID is derived from the issuer's subject).
type User struct {
	ID        UserID
	Username  string // unique, what members are addressed by
	Name      string // display name
	Color     string // cursor colour, "#rrggbb"
	CreatedAt time.Time
}

// Document is a document's metadata. Its content lives in the op log and
// snapshots (see Log).
type Document struct {
	ID        DocumentID
	Title     string
	Owner     UserID
	Version   int64 // the newest edit's version; 0 for a new document
	CreatedAt time.Time
	UpdatedAt time.Time // last activity: creation, rename or edit
}

// Member gives a user a role on a document.
type Member struct {
	User User
	Role Role
}

// Edit is a committed delta: edit number Version turns version Version-1 of
// the document into version Version. (Client, Seq) identify the op that
// produced it, so a resent op is recognised (protocol: exactly once).
type Edit struct {
	Version   int64
	Client    ClientID
	Seq       int64
	Author    UserID
	Delta     ot.Delta
	CreatedAt time.Time
}

// Snapshot is the whole document at a version: a checkpoint that saves
// replaying the log from the start. Version 0 holds the initial content.
type Snapshot struct {
	Version   int64
	Doc       ot.Doc
	CreatedAt time.Time
}

// Token is a personal API token. Only a hash of its secret is stored; the
// secret is shown once, when it is made.
type Token struct {
	ID        string
	User      UserID
	Name      string
	Hash      []byte
	CreatedAt time.Time
	LastUsed  time.Time // zero if never used
}

// Page asks for one page of a list: at most Limit items after the position
// that an earlier page's NextCursor named ("" for the first page).
type Page struct {
	Limit  int
	Cursor string
}
