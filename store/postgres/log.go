package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
)

const editColumns = `version, client_id, seq, author_id, delta, created_at`

// scanEdits reads rows of editColumns.
func scanEdits(rows pgx.Rows) ([]collab.Edit, error) {
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

func scanEdit(row pgx.Row) (collab.Edit, error) {
	var (
		e     collab.Edit
		delta string
	)
	if err := row.Scan(&e.Version, &e.Client, &e.Seq, &e.Author, &delta, &e.CreatedAt); err != nil {
		return collab.Edit{}, err
	}
	d, err := record.ParseDelta(delta)
	if err != nil {
		return collab.Edit{}, fmt.Errorf("edit %d: %w", e.Version, err)
	}
	e.Delta, e.CreatedAt = d, e.CreatedAt.UTC()
	return e, nil
}

// Edits returns the edits from..to of doc.
func (s *Store) Edits(ctx context.Context, doc collab.DocumentID, from, to int64) ([]collab.Edit, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT deleted FROM documents WHERE id = $1`, doc)
	b.Queue(`SELECT `+editColumns+` FROM edits
		WHERE document_id = $1 AND version BETWEEN $2 AND $3 ORDER BY version`, doc, from, to)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if err := checkDoc(br.QueryRow(), doc); err != nil {
		return nil, dbErr(err, fmt.Sprintf("edits %d-%d of %s", from, to, doc))
	}
	rows, err := br.Query()
	if err != nil {
		return nil, dbErr(err, fmt.Sprintf("edits %d-%d of %s", from, to, doc))
	}
	edits, err := scanEdits(rows)
	if err != nil {
		return nil, dbErr(err, fmt.Sprintf("edits %d-%d of %s", from, to, doc))
	}
	return edits, nil
}

// checkDoc reads the result of "SELECT deleted FROM documents WHERE id".
func checkDoc(row pgx.Row, doc collab.DocumentID) error {
	var deleted bool
	err := row.Scan(&deleted)
	if errors.Is(err, pgx.ErrNoRows) || deleted {
		return record.NotFound("document %s", doc)
	}
	return err
}

// EditBySeq returns the edit that op (client, seq) of doc became.
func (s *Store) EditBySeq(ctx context.Context, doc collab.DocumentID, client collab.ClientID, seq int64) (collab.Edit, error) {
	e, err := scanEdit(s.pool.QueryRow(ctx, `SELECT `+editColumns+` FROM edits
		WHERE document_id = $1 AND client_id = $2 AND seq = $3
		AND EXISTS (SELECT FROM documents WHERE id = $1 AND NOT deleted)`, doc, client, seq))
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("op (%s, %d) of document %s", client, seq, doc)
	}
	if err != nil {
		return collab.Edit{}, dbErr(err, "edit by seq")
	}
	return e, nil
}

// snapshotSQL finds a document and its newest snapshot at or before $2.
const snapshotSQL = `
SELECT d.deleted, s.version, s.content, s.created_at
FROM documents d LEFT JOIN LATERAL (
	SELECT version, content, created_at FROM snapshots
	WHERE document_id = d.id AND version <= $2
	ORDER BY version DESC LIMIT 1
) s ON true
WHERE d.id = $1`

// snapshotAt returns the newest snapshot of doc at or before version with
// its document still undecoded.
func (s *Store) snapshotAt(ctx context.Context, doc collab.DocumentID, version int64) (record.RawSnapshot, error) {
	var (
		deleted bool
		v       *int64
		content []byte
		created *time.Time
	)
	err := s.pool.QueryRow(ctx, snapshotSQL, doc, version).Scan(&deleted, &v, &content, &created)
	if errors.Is(err, pgx.ErrNoRows) || deleted {
		return record.RawSnapshot{}, record.NotFound("document %s", doc)
	}
	if err != nil {
		return record.RawSnapshot{}, err
	}
	if v == nil {
		return record.RawSnapshot{}, record.NotFound("snapshot of %s at or before version %d", doc, version)
	}
	return record.RawSnapshot{Version: *v, Content: content, CreatedAt: created.UTC()}, nil
}

// Load returns the newest snapshot of doc and the edits after it. The
// snapshot's document (megabytes, maybe) is decoded while the edits are
// read.
func (s *Store) Load(ctx context.Context, doc collab.DocumentID) (collab.Snapshot, []collab.Edit, error) {
	const newest = int64(1<<63 - 1)
	raw, err := s.snapshotAt(ctx, doc, newest)
	if err != nil {
		return collab.Snapshot{}, nil, dbErr(err, "load "+string(doc))
	}
	decoded := raw.DecodeAsync()
	// Edits are never changed or removed, so those after the snapshot are
	// right whenever they are read.
	var edits []collab.Edit
	rows, err := s.pool.Query(ctx, `SELECT `+editColumns+` FROM edits
		WHERE document_id = $1 AND version > $2 ORDER BY version`, doc, raw.Version)
	if err == nil {
		edits, err = scanEdits(rows)
	}
	snap, derr := decoded()
	if err == nil {
		err = derr
	}
	if err != nil {
		return collab.Snapshot{}, nil, dbErr(err, "load "+string(doc))
	}
	return snap, edits, nil
}

// SnapshotAt returns the newest snapshot of doc with Version <= version.
func (s *Store) SnapshotAt(ctx context.Context, doc collab.DocumentID, version int64) (collab.Snapshot, error) {
	raw, err := s.snapshotAt(ctx, doc, version)
	var snap collab.Snapshot
	if err == nil {
		snap, err = raw.Decode()
	}
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
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO snapshots (document_id, version, content, created_at)
		SELECT id, $2, $3, $4 FROM documents WHERE id = $1 AND NOT deleted AND version >= $2
		ON CONFLICT (document_id, version) DO NOTHING`,
		doc, snap.Version, content, record.OrNow(snap.CreatedAt, record.Now()))
	if err != nil {
		return dbErr(err, what)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Nothing inserted: the snapshot is there already, or the document
	// is missing or not at that version yet.
	var (
		deleted bool
		current int64
	)
	err = s.pool.QueryRow(ctx, `SELECT deleted, version FROM documents WHERE id = $1`, doc).Scan(&deleted, &current)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || err == nil && deleted:
		return dbErr(record.NotFound("document %s", doc), what)
	case err != nil:
		return dbErr(err, what)
	case current < snap.Version:
		return collab.Errorf(collab.Invalid, "%s: the document is at version %d", what, current)
	}
	return nil
}

// PruneSnapshots deletes the snapshots of doc that p does not keep.
func (s *Store) PruneSnapshots(ctx context.Context, doc collab.DocumentID, p collab.PrunePolicy) error {
	what := "prune snapshots of " + string(doc)
	if err := record.CheckPrune(p); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT deleted FROM documents WHERE id = $1`, doc)
	b.Queue(pruneSQL, doc, record.PruneEvery(p), p.KeepLatest)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if err := checkDoc(br.QueryRow(), doc); err != nil {
		return dbErr(err, what)
	}
	if _, err := br.Exec(); err != nil {
		return dbErr(err, what)
	}
	return dbErr(br.Close(), what)
}

// pruneSQL keeps version 0, the newest $3 snapshots, and the oldest
// snapshot in each run of $2 versions ([k*$2, (k+1)*$2)); kept snapshots
// stay kept as new ones arrive.
const pruneSQL = `
DELETE FROM snapshots s USING (
	SELECT version FROM (
		SELECT version,
			row_number() OVER (ORDER BY version DESC) AS newest,
			row_number() OVER (PARTITION BY version / $2 ORDER BY version) AS in_run
		FROM snapshots WHERE document_id = $1
	) r
	WHERE version > 0 AND newest > $3 AND in_run > 1
) old
WHERE s.document_id = $1 AND s.version = old.version`
