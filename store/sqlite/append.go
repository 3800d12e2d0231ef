package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
// processes too, so what it reads stays true until it commits) and two
// statements for the whole batch, whose rows go in as one JSON array each:
// the version move of the documents that are where their request expects
// them, and the edits of those (see commitBatch). A request that fails its
// check leaves nothing; the others are stored. Statements are CPU work
// here, not round trips, so fewer statements is what makes a batch cheap.
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
