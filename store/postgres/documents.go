package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/store/internal/record"
)

// CreateDocument stores d, its owner's membership and the snapshot at
// version 0 in one transaction.
func (s *Store) CreateDocument(ctx context.Context, d collab.Document, initial collab.Snapshot) (collab.Document, error) {
	what := "create document " + string(d.ID)
	if d.ID == "" || d.Owner == "" {
		return collab.Document{}, collab.Errorf(collab.Invalid, "%s: a document needs an id and an owner", what)
	}
	if initial.Version != 0 {
		return collab.Document{}, collab.Errorf(collab.Invalid, "%s: initial snapshot at version %d, want 0", what, initial.Version)
	}
	if initial.Doc.Len() == 0 {
		initial.Doc = ot.NewDoc() // the zero Snapshot: an empty document
	}
	content, err := record.Doc(initial.Doc)
	if err != nil {
		return collab.Document{}, fmt.Errorf("%s: %w", what, err)
	}
	now := record.Now()
	d.Version, d.CreatedAt, d.UpdatedAt = 0, now, now
	// A batch is one implicit transaction: all three rows or none.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO documents (id, title, owner_id, version, created_at, updated_at)
		VALUES ($1, $2, $3, 0, $4, $4)`, d.ID, d.Title, d.Owner, now)
	b.Queue(`INSERT INTO members (document_id, user_id, role) VALUES ($1, $2, 'owner')`, d.ID, d.Owner)
	b.Queue(`INSERT INTO snapshots (document_id, version, content, created_at) VALUES ($1, 0, $2, $3)`,
		d.ID, content, record.OrNow(initial.CreatedAt, now))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		switch constraint(err) {
		case "documents_pkey":
			return collab.Document{}, collab.Errorf(collab.Duplicate, "%s: the id is taken", what)
		case "documents_owner_id_fkey":
			return collab.Document{}, collab.Errorf(collab.NotFound, "%s: owner %s not found", what, d.Owner)
		}
		return collab.Document{}, dbErr(err, what)
	}
	return d, nil
}

const documentColumns = `d.id, d.title, d.owner_id, d.version, d.created_at, d.updated_at`

func scanDocument(row pgx.Row, extra ...any) (collab.Document, error) {
	var d collab.Document
	err := row.Scan(append([]any{&d.ID, &d.Title, &d.Owner, &d.Version, &d.CreatedAt, &d.UpdatedAt}, extra...)...)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, err
}

// Document returns the metadata of an existing, undeleted document.
func (s *Store) Document(ctx context.Context, id collab.DocumentID) (collab.Document, error) {
	d, err := scanDocument(s.pool.QueryRow(ctx, `SELECT `+documentColumns+`
		FROM documents d WHERE d.id = $1 AND NOT d.deleted`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("document %s", id)
	}
	if err != nil {
		return collab.Document{}, dbErr(err, "document "+string(id))
	}
	return d, nil
}

// ListDocuments pages through user's documents, newest activity first,
// ties by id.
func (s *Store) ListDocuments(ctx context.Context, user collab.UserID, p collab.Page) ([]collab.DocumentAccess, string, error) {
	what := "list documents of " + string(user)
	after, afterID, hasCursor, err := record.ParseCursor(p.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	var afterTime *time.Time
	if hasCursor {
		afterTime = &after
	}
	limit := record.Limit(p)
	rows, err := s.pool.Query(ctx, `SELECT `+documentColumns+`, m.role
		FROM members m JOIN documents d ON d.id = m.document_id
		WHERE m.user_id = $1 AND NOT d.deleted
		AND ($2::timestamptz IS NULL OR d.updated_at < $2 OR (d.updated_at = $2 AND d.id > $3))
		ORDER BY d.updated_at DESC, d.id
		LIMIT $4`, user, afterTime, afterID, limit+1)
	if err != nil {
		return nil, "", dbErr(err, what)
	}
	defer rows.Close()
	var docs []collab.DocumentAccess
	for rows.Next() {
		var a collab.DocumentAccess
		if a.Document, err = scanDocument(rows, &a.Role); err != nil {
			return nil, "", dbErr(err, what)
		}
		docs = append(docs, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr(err, what)
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		last := docs[limit-1]
		next = record.Cursor(last.UpdatedAt, last.ID)
	}
	return docs, next, nil
}

// RenameDocument sets the title of an existing document.
func (s *Store) RenameDocument(ctx context.Context, id collab.DocumentID, title string) (collab.Document, error) {
	d, err := scanDocument(s.pool.QueryRow(ctx, `UPDATE documents d SET title = $2, updated_at = $3
		WHERE d.id = $1 AND NOT d.deleted RETURNING `+documentColumns, id, title, record.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("document %s", id)
	}
	if err != nil {
		return collab.Document{}, dbErr(err, "rename document "+string(id))
	}
	return d, nil
}

// DeleteDocument marks a document deleted.
func (s *Store) DeleteDocument(ctx context.Context, id collab.DocumentID) error {
	tag, err := s.pool.Exec(ctx, `UPDATE documents SET deleted = true, updated_at = $2
		WHERE id = $1 AND NOT deleted`, id, record.Now())
	if err == nil && tag.RowsAffected() == 0 {
		err = record.NotFound("document %s", id)
	}
	return dbErr(err, "delete document "+string(id))
}

// Role returns user's role on doc.
func (s *Store) Role(ctx context.Context, doc collab.DocumentID, user collab.UserID) (collab.Role, error) {
	var r collab.Role
	err := s.pool.QueryRow(ctx, `SELECT m.role FROM members m JOIN documents d ON d.id = m.document_id
		WHERE m.document_id = $1 AND m.user_id = $2 AND NOT d.deleted`, doc, user).Scan(&r)
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("member %s of document %s", user, doc)
	}
	if err != nil {
		return "", dbErr(err, "role")
	}
	return r, nil
}

// Members returns the members of doc by username.
func (s *Store) Members(ctx context.Context, doc collab.DocumentID) ([]collab.Member, error) {
	what := "members of " + string(doc)
	b := &pgx.Batch{}
	b.Queue(`SELECT deleted FROM documents WHERE id = $1`, doc)
	b.Queue(`SELECT `+userColumns+`, m.role FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.document_id = $1 ORDER BY u.username`, doc)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if err := checkDoc(br.QueryRow(), doc); err != nil {
		return nil, dbErr(err, what)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, dbErr(err, what)
	}
	defer rows.Close()
	var members []collab.Member
	for rows.Next() {
		var m collab.Member
		if m.User, err = scanUser(rows, &m.Role); err != nil {
			return nil, dbErr(err, what)
		}
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, what)
	}
	return members, nil
}

// SetMember gives user role on doc, adding or changing the membership.
func (s *Store) SetMember(ctx context.Context, doc collab.DocumentID, user collab.UserID, role collab.Role) error {
	what := fmt.Sprintf("make %s %s of %s", user, role, doc)
	if err := record.CheckRole(role); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO members (document_id, user_id, role)
		SELECT id, $2, $3 FROM documents WHERE id = $1 AND NOT deleted
		ON CONFLICT (document_id, user_id) DO UPDATE SET role = EXCLUDED.role`, doc, user, role)
	switch {
	case constraint(err) == "members_user_id_fkey":
		return collab.Errorf(collab.NotFound, "%s: user %s not found", what, user)
	case err == nil && tag.RowsAffected() == 0:
		err = record.NotFound("document %s", doc)
	}
	return dbErr(err, what)
}

// RemoveMember ends user's membership of doc.
func (s *Store) RemoveMember(ctx context.Context, doc collab.DocumentID, user collab.UserID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM members m USING documents d
		WHERE m.document_id = $1 AND m.user_id = $2 AND d.id = m.document_id AND NOT d.deleted`, doc, user)
	if err == nil && tag.RowsAffected() == 0 {
		err = record.NotFound("member %s of document %s", user, doc)
	}
	return dbErr(err, fmt.Sprintf("remove member %s of %s", user, doc))
}
