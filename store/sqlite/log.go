package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	lib "modernc.org/sqlite/lib"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/group"
	"github.com/collabd/collabd/store/internal/record"
)

// Append stores edits through the group commit (see commit).
func (s *Store) Append(ctx context.Context, doc collab.DocumentID, edits []collab.Edit) error {
	rows, err := record.EncodeAppend(doc, edits)
	if err != nil {
		return err
	}
	if err := s.committer.Do(ctx, string(doc), rows); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = record.ContextError(err)
		}
		return fmt.Errorf("append edit %s of %s: %w", record.Range(edits), doc, err)
	}
	return nil
}

// commit is the group committer's CommitFunc: one write transaction (BEGIN
// IMMEDIATE: it holds the file's write lock throughout, against other
// processes too, so what it reads stays true until it commits) and a few
// statements for the whole batch, whose rows go in as one JSON array each:
// which requests hold an op that is stored already, the version move of
// the documents that are where the request expects them, the edits of
// those, and for the rest why not. A request that fails its check leaves
// nothing; the others are stored. Each statement is CPU work here (no
// round trips), so fewer statements is what makes a batch cheap.
func (s *Store) commit(ctx context.Context, batch []*group.Request[record.Rows]) (errs []error, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbErr(err, "commit edits")
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if errs, err = commitBatch(ctx, tx, batch); err != nil {
		return nil, dbErr(err, "commit edits")
	}
	if s.failCommits.Add(-1) >= 0 {
		return nil, errors.New("commit edits: injected fault") // fault injection for tests
	}
	s.failCommits.Store(0)
	if err = tx.Commit(); err != nil {
		return nil, dbErr(err, "commit edits")
	}
	return errs, nil
}

// jsonRows encodes rows as a JSON array of arrays for json_each.
func jsonRows(rows [][]any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rows); err != nil {
		return "", err
	}
	return b.String(), nil
}

func commitBatch(ctx context.Context, tx *sql.Tx, batch []*group.Request[record.Rows]) ([]error, error) {
	// The common case first: no op is stored yet. If one is, the insert
	// breaks on the unique constraint; then find those and go again
	// without them.
	moved, err := moveAndInsert(ctx, tx, batch, nil)
	var stored map[string]bool
	if isConstraint(err, lib.SQLITE_CONSTRAINT_UNIQUE) {
		if stored, err = storedDocs(ctx, tx, batch); err != nil {
			return nil, err
		}
		moved, err = moveAndInsert(ctx, tx, batch, stored)
	}
	if err != nil {
		return nil, err
	}
	// Say why the others were not stored, as Postgres does: a stored op
	// comes before the version.
	var rest []*group.Request[record.Rows]
	for _, r := range batch {
		if !moved[r.Key] && !stored[r.Key] {
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 && stored == nil {
		if stored, err = storedDocs(ctx, tx, rest); err != nil {
			return nil, err
		}
	}
	errs := make([]error, len(batch))
	for i, r := range batch {
		switch doc := collab.DocumentID(r.Key); {
		case moved[r.Key]:
		case stored[r.Key]:
			errs[i] = record.AppendOutcome(doc, true, false, true, 0, 0)
		default:
			var (
				current int64
				deleted bool
			)
			err := tx.QueryRowContext(ctx, `SELECT version, deleted FROM documents WHERE id = $1`, doc).Scan(&current, &deleted)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			errs[i] = record.AppendOutcome(doc, err == nil, deleted, false, current, r.Value.First)
		}
	}
	return errs, nil
}

// moveAndInsert moves the version of each document of batch (but those in
// skip) that is where its request expects it, and inserts those requests'
// edits. It returns the documents moved; on error it has changed nothing.
func moveAndInsert(ctx context.Context, tx *sql.Tx, batch []*group.Request[record.Rows], skip map[string]bool) (moved map[string]bool, err error) {
	var moves [][]any
	for _, r := range batch {
		if !skip[r.Key] {
			moves = append(moves, []any{r.Key, r.Value.First, r.Value.Last})
		}
	}
	moved = map[string]bool{}
	if len(moves) == 0 {
		return moved, nil
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.ExecContext(ctx, "ROLLBACK TO batch")
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE batch"); err == nil {
			err = rerr
		}
	}()
	j, err := jsonRows(moves)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `UPDATE documents SET version = j.last, updated_at = $1
		FROM (SELECT value->>0 AS id, value->>1 AS first, value->>2 AS last FROM json_each($2)) AS j
		WHERE documents.id = j.id AND documents.version = j.first - 1 AND NOT documents.deleted
		RETURNING documents.id`, record.Micros(record.Now()), j)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		moved[id] = true
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	var edits [][]any
	for _, r := range batch {
		if !moved[r.Key] {
			continue
		}
		v := &r.Value
		for i := range v.Version {
			edits = append(edits, []any{r.Key, v.Version[i], v.Client[i], v.Seq[i], v.Author[i], v.Delta[i], record.Micros(v.Time[i])})
		}
	}
	if len(edits) == 0 {
		return moved, nil
	}
	if j, err = jsonRows(edits); err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO edits (document_id, version, client_id, seq, author_id, delta, created_at)
		SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each($1)`, j)
	if err != nil {
		return nil, err
	}
	return moved, nil
}

// storedDocs returns the documents of batch that hold one of its ops
// already.
func storedDocs(ctx context.Context, q querier, batch []*group.Request[record.Rows]) (map[string]bool, error) {
	var ops [][]any
	for _, r := range batch {
		for i := range r.Value.Version {
			ops = append(ops, []any{r.Key, r.Value.Client[i], r.Value.Seq[i]})
		}
	}
	j, err := jsonRows(ops)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT x.document_id
		FROM json_each($1) AS o JOIN edits AS x
		ON x.document_id = o.value->>0 AND x.client_id = o.value->>1 AND x.seq = o.value->>2`, j)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		stored[id] = true
	}
	return stored, rows.Err()
}

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

func snapshotAt(ctx context.Context, q querier, doc collab.DocumentID, version int64) (collab.Snapshot, error) {
	if err := checkDoc(ctx, q, doc); err != nil {
		return collab.Snapshot{}, err
	}
	var (
		snap    collab.Snapshot
		content []byte
		created int64
	)
	err := q.QueryRowContext(ctx, `SELECT version, content, created_at FROM snapshots
		WHERE document_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1`, doc, version).
		Scan(&snap.Version, &content, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return collab.Snapshot{}, record.NotFound("snapshot of %s at or before version %d", doc, version)
	}
	if err != nil {
		return collab.Snapshot{}, err
	}
	if snap.Doc, err = record.ParseDoc(content); err != nil {
		return collab.Snapshot{}, fmt.Errorf("snapshot %d: %w", snap.Version, err)
	}
	snap.CreatedAt = record.FromMicros(created)
	return snap, nil
}

// Load returns the newest snapshot of doc and the edits after it, read in
// one transaction.
func (s *Store) Load(ctx context.Context, doc collab.DocumentID) (snap collab.Snapshot, edits []collab.Edit, err error) {
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if snap, err = snapshotAt(ctx, tx, doc, math.MaxInt64); err != nil {
			return err
		}
		edits, err = queryEdits(ctx, tx, doc, snap.Version+1, math.MaxInt64)
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
		var err error
		snap, err = snapshotAt(ctx, tx, doc, version)
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
