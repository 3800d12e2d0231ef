package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	lib "modernc.org/sqlite/lib"

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
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO documents (id, title, owner_id, version, created_at, updated_at)
			VALUES ($1, $2, $3, 0, $4, $4)`, d.ID, d.Title, d.Owner, record.Micros(now))
		switch {
		case isConstraint(err, lib.SQLITE_CONSTRAINT_PRIMARYKEY):
			return collab.Errorf(collab.Duplicate, "the id is taken")
		case isConstraint(err, lib.SQLITE_CONSTRAINT_FOREIGNKEY):
			return collab.Errorf(collab.NotFound, "owner %s not found", d.Owner)
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO members (document_id, user_id, role)
			VALUES ($1, $2, 'owner')`, d.ID, d.Owner); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO snapshots (document_id, version, content, created_at)
			VALUES ($1, 0, $2, $3)`, d.ID, content, record.Micros(record.OrNow(initial.CreatedAt, now)))
		return err
	})
	if err != nil {
		return collab.Document{}, dbErr(err, what)
	}
	return d, nil
}

const documentColumns = `d.id, d.title, d.owner_id, d.version, d.created_at, d.updated_at`

func scanDocument(row scanner, extra ...any) (collab.Document, error) {
	var (
		d                collab.Document
		created, updated int64
	)
	err := row.Scan(append([]any{&d.ID, &d.Title, &d.Owner, &d.Version, &created, &updated}, extra...)...)
	d.CreatedAt, d.UpdatedAt = record.FromMicros(created), record.FromMicros(updated)
	return d, err
}

// Document returns the metadata of an existing, undeleted document.
func (s *Store) Document(ctx context.Context, id collab.DocumentID) (collab.Document, error) {
	d, err := scanDocument(s.read.QueryRowContext(ctx, `SELECT `+documentColumns+`
		FROM documents d WHERE d.id = $1 AND NOT d.deleted`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	var afterMicros any // NULL: from the start
	if hasCursor {
		afterMicros = record.Micros(after)
	}
	limit := record.Limit(p)
	rows, err := s.read.QueryContext(ctx, `SELECT `+documentColumns+`, m.role
		FROM members m JOIN documents d ON d.id = m.document_id
		WHERE m.user_id = $1 AND NOT d.deleted
		AND ($2 IS NULL OR d.updated_at < $2 OR (d.updated_at = $2 AND d.id > $3))
		ORDER BY d.updated_at DESC, d.id
		LIMIT $4`, user, afterMicros, afterID, limit+1)
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
	d, err := scanDocument(s.write.QueryRowContext(ctx, `UPDATE documents AS d SET title = $2, updated_at = $3
		WHERE d.id = $1 AND NOT d.deleted
		RETURNING id, title, owner_id, version, created_at, updated_at`, id, title, record.Micros(record.Now())))
	if errors.Is(err, sql.ErrNoRows) {
		err = record.NotFound("document %s", id)
	}
	if err != nil {
		return collab.Document{}, dbErr(err, "rename document "+string(id))
	}
	return d, nil
}

// DeleteDocument marks a document deleted.
func (s *Store) DeleteDocument(ctx context.Context, id collab.DocumentID) error {
	res, err := s.write.ExecContext(ctx, `UPDATE documents SET deleted = 1, updated_at = $2
		WHERE id = $1 AND NOT deleted`, id, record.Micros(record.Now()))
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = record.NotFound("document %s", id)
		}
	}
	return dbErr(err, "delete document "+string(id))
}

// Role returns user's role on doc.
func (s *Store) Role(ctx context.Context, doc collab.DocumentID, user collab.UserID) (collab.Role, error) {
	var r collab.Role
	err := s.read.QueryRowContext(ctx, `SELECT m.role FROM members m JOIN documents d ON d.id = m.document_id
		WHERE m.document_id = $1 AND m.user_id = $2 AND NOT d.deleted`, doc, user).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		err = record.NotFound("member %s of document %s", user, doc)
	}
	if err != nil {
		return "", dbErr(err, "role")
	}
	return r, nil
}

// Members returns the members of doc by username.
func (s *Store) Members(ctx context.Context, doc collab.DocumentID) ([]collab.Member, error) {
	var members []collab.Member
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := checkDoc(ctx, tx, doc); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+userColumns+`, m.role FROM members m JOIN users u ON u.id = m.user_id
			WHERE m.document_id = $1 ORDER BY u.username`, doc)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m collab.Member
			if m.User, err = scanUser(rows, &m.Role); err != nil {
				return err
			}
			members = append(members, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, dbErr(err, "members of "+string(doc))
	}
	return members, nil
}

// SetMember gives user role on doc, adding or changing the membership.
func (s *Store) SetMember(ctx context.Context, doc collab.DocumentID, user collab.UserID, role collab.Role) error {
	what := fmt.Sprintf("make %s %s of %s", user, role, doc)
	if err := record.CheckRole(role); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO members (document_id, user_id, role)
		SELECT id, $2, $3 FROM documents WHERE id = $1 AND NOT deleted
		ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role`, doc, user, role)
	switch {
	case isConstraint(err, lib.SQLITE_CONSTRAINT_FOREIGNKEY):
		return collab.Errorf(collab.NotFound, "%s: user %s not found", what, user)
	case err == nil:
		if n, _ := res.RowsAffected(); n == 0 {
			err = record.NotFound("document %s", doc)
		}
	}
	return dbErr(err, what)
}

// RemoveMember ends user's membership of doc.
func (s *Store) RemoveMember(ctx context.Context, doc collab.DocumentID, user collab.UserID) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM members WHERE document_id = $1 AND user_id = $2
		AND EXISTS (SELECT 1 FROM documents WHERE id = $1 AND NOT deleted)`, doc, user)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = record.NotFound("member %s of document %s", user, doc)
		}
	}
	return dbErr(err, fmt.Sprintf("remove member %s of %s", user, doc))
}
