package collab

import (
	"context"
	"fmt"
	"time"

	"github.com/collabd/collabd/ot"
)

// Log is the op log of documents, the ordering authority for each
// document's versions, and its snapshots. Several server processes may share
// one Log; the version check in Append is what keeps them from both writing
// one version. Implementations are safe for concurrent use.
type Log interface {
	// Append durably stores edits, which must hold consecutive versions
	// starting at the document's current version + 1. It returns only after
	// they are committed. Nothing of the call is stored if it fails:
	// ErrVersionTaken if another writer stored one of those versions first
	// (catch up with Edits and retry), ErrDuplicate if one of the (Client,
	// Seq) pairs is stored already, ErrNotFound for an unknown or deleted
	// document, ErrUnavailable when the database cannot be reached. Appends
	// for many documents are committed together (group commit), so callers
	// should call concurrently rather than batch by hand.
	Append(ctx context.Context, doc DocumentID, edits []Edit) error

	// Edits returns the stored edits with from <= Version <= to, in version
	// order; fewer (maybe none) if the log ends earlier.
	Edits(ctx context.Context, doc DocumentID, from, to int64) ([]Edit, error)

	// EditBySeq returns the edit that the op (client, seq) became, or
	// ErrNotFound.
	EditBySeq(ctx context.Context, doc DocumentID, client ClientID, seq int64) (Edit, error)

	// Load returns the newest snapshot and every edit after it: what a
	// session needs to bring the document to its current version.
	Load(ctx context.Context, doc DocumentID) (Snapshot, []Edit, error)

	// SnapshotAt returns the newest snapshot with Version <= version.
	SnapshotAt(ctx context.Context, doc DocumentID, version int64) (Snapshot, error)

	// SaveSnapshot stores a checkpoint. Saving a version that exists already
	// is not an error (two processes may checkpoint the same version).
	SaveSnapshot(ctx context.Context, doc DocumentID, s Snapshot) error

	// PruneSnapshots deletes snapshots per policy. The op log itself is
	// never pruned: history is a feature.
	PruneSnapshots(ctx context.Context, doc DocumentID, p PrunePolicy) error
}

// PrunePolicy says which snapshots to keep: always version 0 and the newest
// KeepLatest, plus at most one per Every versions for older history, so
// reading an old version replays at most about Every edits.
type PrunePolicy struct {
	KeepLatest int
	Every      int64
}

// Documents stores document metadata and membership.
type Documents interface {
	// CreateDocument stores d (its ID, Title, Owner set by the caller), makes
	// the owner a member with role Owner and stores initial as the snapshot
	// at version 0, all in one transaction. It returns d with timestamps set.
	CreateDocument(ctx context.Context, d Document, initial Snapshot) (Document, error)

	// Document returns a document's metadata; ErrNotFound if it is unknown
	// or deleted.
	Document(ctx context.Context, id DocumentID) (Document, error)

	// ListDocuments returns the documents user is a member of with the
	// user's role, newest activity first (ties by id), one page at a time.
	// A cursor it did not give is BadRequest.
	ListDocuments(ctx context.Context, user UserID, p Page) (docs []DocumentAccess, next string, err error)

	RenameDocument(ctx context.Context, id DocumentID, title string) (Document, error)

	// DeleteDocument marks a document deleted; from then on it is not found.
	DeleteDocument(ctx context.Context, id DocumentID) error

	// Role returns user's role on doc; ErrNotFound if the user is no member
	// or the document is unknown or deleted.
	Role(ctx context.Context, doc DocumentID, user UserID) (Role, error)

	Members(ctx context.Context, doc DocumentID) ([]Member, error)
	SetMember(ctx context.Context, doc DocumentID, user UserID, role Role) error
	// RemoveMember returns ErrNotFound if user is not a member.
	RemoveMember(ctx context.Context, doc DocumentID, user UserID) error
}

// DocumentAccess is a document together with one user's role on it.
type DocumentAccess struct {
	Document
	Role Role
}

// Users stores accounts and personal API tokens.
type Users interface {
	// CreateUser stores u with a password hash (nil for an external user);
	// ErrDuplicate if the username is taken.
	CreateUser(ctx context.Context, u User, passwordHash []byte) (User, error)
	// UpsertUser creates or updates (name, color) a user by ID: how users of
	// a trusted external issuer come into being on first sight.
	UpsertUser(ctx context.Context, u User) (User, error)
	User(ctx context.Context, id UserID) (User, error)
	// UserByUsername also returns the password hash (nil if none).
	UserByUsername(ctx context.Context, username string) (User, []byte, error)

	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds an unrevoked token by the hash of its secret and
	// records its use.
	TokenByHash(ctx context.Context, hash []byte, now time.Time) (Token, error)
	Tokens(ctx context.Context, user UserID) ([]Token, error)
	// RevokeToken deletes user's token id; ErrNotFound if there is none.
	RevokeToken(ctx context.Context, user UserID, id string) error
}

// Store is everything collabd persists. cmd/collabd opens one (Postgres or
// the embedded SQLite) and hands it to session and api as these interfaces.
type Store interface {
	Log
	Documents
	Users
	// Ping reports whether the database is reachable and migrated.
	Ping(ctx context.Context) error
	Close() error
}

// DocAt returns document doc as it was at version: the newest snapshot at
// or before it with the edits after the snapshot applied. How many edits
// that replays depends on the snapshots kept (PrunePolicy.Every).
// ErrNotFound if the document does not exist or has not reached version.
func DocAt(ctx context.Context, log Log, doc DocumentID, version int64) (ot.Doc, error) {
	if version < 0 {
		return ot.Doc{}, Errorf(Invalid, "version %d of %s: versions start at 0", version, doc)
	}
	s, err := log.SnapshotAt(ctx, doc, version)
	if err != nil {
		return ot.Doc{}, fmt.Errorf("document %s at version %d: %w", doc, version, err)
	}
	var edits []Edit
	if s.Version < version {
		if edits, err = log.Edits(ctx, doc, s.Version+1, version); err != nil {
			return ot.Doc{}, fmt.Errorf("document %s at version %d: %w", doc, version, err)
		}
	}
	d, v, err := Replay(s, edits)
	if err != nil {
		return ot.Doc{}, fmt.Errorf("document %s at version %d: %w", doc, version, err)
	}
	if v != version {
		return ot.Doc{}, Errorf(NotFound, "document %s has no version %d (it is at %d)", doc, version, v)
	}
	return d, nil
}

// Replay applies edits, which must follow s in version order, to s's
// document: what Load's result becomes in a session. It returns the
// document and its version.
func Replay(s Snapshot, edits []Edit) (ot.Doc, int64, error) {
	d, v := s.Doc, s.Version
	for _, e := range edits {
		if e.Version != v+1 {
			return ot.Doc{}, v, fmt.Errorf("replay: edit %d after version %d", e.Version, v)
		}
		next, err := d.Apply(e.Delta)
		if err != nil {
			return ot.Doc{}, v, fmt.Errorf("replay edit %d: %w", e.Version, err)
		}
		d, v = next, e.Version
	}
	return d, v, nil
}
