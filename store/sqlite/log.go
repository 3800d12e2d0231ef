package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
)

const editColumns = `version, client_id, seq, author_id, delta, created_at`

type scanner interface{ Scan(...any) error }

func scanEdit(row scanner) (collab.Edit, error) {
	var (
		e       collab.Edit
		delta   string
		created int64
	)
	if err := row.Scan(&e.Version, &e.Client, &e.Seq, &e.Author, &delta, &created); err != nil {
		return collab.Edit{}, err
	}
	d, err := record.ParseDelta(delta)
	if err != nil {
		return collab.Edit{}, fmt.Errorf("edit %d: %w", e.Version, err)
	}
	e.Delta, e.CreatedAt = d, record.FromMicros(created)
	return e, nil
}

func queryEdits(ctx context.Context, q querier, doc collab.DocumentID, from, to int64) ([]collab.Edit, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+editColumns+` FROM edits
		WHERE document_id = $1 AND version BETWEEN $2 AND $3 ORDER BY version`, doc, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var edits []collab.Edit
	for rows.Next() {
		e, err := scanEdit(rows)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	return edits, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkDoc returns ErrNotFound unless doc exists and is not deleted.
func checkDoc(ctx context.Context, q querier, doc collab.DocumentID) error {
	var deleted bool
	err := q.QueryRowContext(ctx, `SELECT deleted FROM documents WHERE id = $1`, doc).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) || err == nil && deleted {
		return record.NotFound("document %s", doc)
	}
	return err
}

// readTx runs f in a read transaction: one consistent snapshot of the file.
func (s *Store) readTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return f(tx)
}

// Edits returns the edits from..to of doc.
func (s *Store) Edits(ctx context.Context, doc collab.DocumentID, from, to int64) ([]collab.Edit, error) {
	var edits []collab.Edit
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := checkDoc(ctx, tx, doc); err != nil {
			return err
		}
		var err error
		edits, err = queryEdits(ctx, tx, doc, from, to)
		return err
	})
	if err != nil {
		return nil, dbErr(err, fmt.Sprintf("edits %d-%d of %s", from, to, doc))
	}
	return edits, nil
}

// EditBySeq returns the edit that op (client, seq) of doc became.
func (s *Store) EditBySeq(ctx context.Context, doc collab.DocumentID, client collab.ClientID, seq int64) (collab.Edit, error) {
	e, err := scanEdit(s.read.QueryRowContext(ctx, `SELECT `+editColumns+` FROM edits
		WHERE document_id = $1 AND client_id = $2 AND seq = $3
		AND EXISTS (SELECT 1 FROM documents WHERE id = $1 AND NOT deleted)`, doc, client, seq))
	if errors.Is(err, sql.ErrNoRows) {
		err = record.NotFound("op (%s, %d) of document %s", client, seq, doc)
	}
	if err != nil {
		return collab.Edit{}, dbErr(err, "edit by seq")
	}
	return e, nil
}

// snapshotAt returns the newest snapshot of doc at or before version with
// its document still undecoded.
func snapshotAt(ctx context.Context, q querier, doc collab.DocumentID, version int64) (record.RawSnapshot, error) {
	if err := checkDoc(ctx, q, doc); err != nil {
		return record.RawSnapshot{}, err
	}
	var (
		raw     record.RawSnapshot
		created int64
	)
	err := q.QueryRowContext(ctx, `SELECT version, content, created_at FROM snapshots
		WHERE document_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1`, doc, version).
		Scan(&raw.Version, &raw.Content, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return record.RawSnapshot{}, record.NotFound("snapshot of %s at or before version %d", doc, version)
	}
	raw.CreatedAt = record.FromMicros(created)
	return raw, err
}

// Load returns the newest snapshot of doc and the edits after it, read in
// one transaction. The snapshot's document (megabytes, maybe) is decoded
// while the edits are read.
func (s *Store) Load(ctx context.Context, doc collab.DocumentID) (snap collab.Snapshot, edits []collab.Edit, err error) {
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		raw, err := snapshotAt(ctx, tx, doc, math.MaxInt64)
		if err != nil {
			return err
		}
		decoded := raw.DecodeAsync()
		edits, err = queryEdits(ctx, tx, doc, raw.Version+1, math.MaxInt64)
		var derr error
		snap, derr = decoded()
		if err == nil {
			err = derr
		}
		return err
	})
	if err != nil {
		return collab.Snapshot{}, nil, dbErr(err, "load "+string(doc))
	}
	return snap, edits, nil
}

// SnapshotAt returns the newest snapshot of doc with Version <= version.
func (s *Store) SnapshotAt(ctx context.Context, doc collab.DocumentID, version int64) (collab.Snapshot, error) {
	var snap collab.Snapshot
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		raw, err := snapshotAt(ctx, tx, doc, version)
		if err != nil {
			return err
		}
		snap, err = raw.Decode()
		return err
	})
	if err != nil {
		return collab.Snapshot{}, dbErr(err, fmt.Sprintf("snapshot of %s at version %d", doc, version))
	}
	return snap, nil
}

// SaveSnapshot stores a checkpoint of a version doc has reached.
func (s *Store) SaveSnapshot(ctx context.Context, doc collab.DocumentID, snap collab.Snapshot) error {
	what := fmt.Sprintf("save snapshot %d of %s", snap.Version, doc)
	if snap.Version < 0 {
		return collab.Errorf(collab.Invalid, "%s: versions start at 0", what)
	}
	content, err := record.Doc(snap.Doc)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var (
		current int64
		deleted bool
	)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT version, deleted FROM documents WHERE id = $1`, doc).Scan(&current, &deleted)
		if errors.Is(err, sql.ErrNoRows) || err == nil && deleted {
			return record.NotFound("document %s", doc)
		}
		if err != nil {
			return err
		}
		if current < snap.Version {
			return collab.Errorf(collab.Invalid, "the document is at version %d", current)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO snapshots (document_id, version, content, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (document_id, version) DO NOTHING`,
			doc, snap.Version, content, record.Micros(record.OrNow(snap.CreatedAt, record.Now())))
		return err
	})
	return dbErr(err, what)
}

// writeTx runs f in a write transaction on the writer connection.
func (s *Store) writeTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// PruneSnapshots deletes the snapshots of doc that p does not keep: the
// same rule as the Postgres store's pruneSQL.
func (s *Store) PruneSnapshots(ctx context.Context, doc collab.DocumentID, p collab.PrunePolicy) error {
	what := "prune snapshots of " + string(doc)
	if err := record.CheckPrune(p); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := checkDoc(ctx, tx, doc); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			DELETE FROM snapshots WHERE document_id = $1 AND version IN (
				SELECT version FROM (
					SELECT version,
						row_number() OVER (ORDER BY version DESC) AS newest,
						row_number() OVER (PARTITION BY version / $2 ORDER BY version) AS in_run
					FROM snapshots WHERE document_id = $1
				) WHERE version > 0 AND newest > $3 AND in_run > 1
			)`, doc, record.PruneEvery(p), p.KeepLatest)
		return err
	})
	return dbErr(err, what)
}
