package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// appendSQL commits the Appends of a batch, one per document, in one
// statement (so in one transaction, with one round trip and one WAL flush)
// and reports for each document what it found.
//
// For each document it locks the row (in id order, so that two processes
// committing overlapping batches cannot deadlock) and stores the edits only
// if the document is there, not deleted and at version first-1. Holding the
// row lock makes that check final: every writer of a document's edits
// takes it, and one that committed while we waited has moved the version
// on, so we see a conflict. A document that fails the check fails alone;
// the others are stored.
//
// A (client, seq) pair that is stored already breaks the statement with a
// unique violation on edits_client_seq; commit then finds the culprits and
// commits the rest again. That is rare (a resent op that the session did
// not recognise), so the common path does not look for it.
//
// The rows are locked one by one through the primary key (a lateral
// subquery with a row lock is never flattened into a join): planned as a
// join, a table of a few hundred documents was scanned whole on every
// commit, which cost Postgres more CPU than the inserts.
//
// Parameters: $1-$3 one element per request (document, first and last
// version), $4-$10 one per edit, $11 the time.
const appendSQL = `
WITH req AS (
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r (id, first, last)
), locked AS (
	SELECT l.* FROM (SELECT id FROM req ORDER BY id COLLATE "C") r,
	LATERAL (SELECT d.id, d.version, d.deleted FROM documents d WHERE d.id = r.id FOR NO KEY UPDATE) l
), ok AS (
	SELECT req.id, req.last FROM req JOIN locked l ON l.id = req.id
	WHERE l.version = req.first - 1 AND NOT l.deleted
), upd AS (
	UPDATE documents d SET version = ok.last, updated_at = $11 FROM ok WHERE d.id = ok.id
), ins AS (
	INSERT INTO edits (document_id, version, client_id, seq, author_id, delta, created_at)
	SELECT * FROM unnest($4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::timestamptz[])
		AS e (doc, version, client, seq, author, delta, created_at)
	WHERE doc IN (SELECT id FROM ok)
)
SELECT req.id, l.id IS NOT NULL, COALESCE(l.deleted, false), COALESCE(l.version, 0)
FROM req LEFT JOIN locked l ON l.id = req.id`

// storedSQL returns which of the documents $1 already hold the op ($2, $3)
// (one element per edit).
const storedSQL = `
SELECT DISTINCT e.doc FROM unnest($1::text[], $2::text[], $3::bigint[]) AS e (doc, client, seq)
JOIN edits x ON x.document_id = e.doc AND x.client_id = e.client AND x.seq = e.seq`

// replanEvery is how long a connection keeps its prepared appendSQL. The
// server plans a prepared statement once and keeps the plan, made for the
// sizes of the tables then: a plan made while the op log was small scans
// it, and would keep doing so as it grows (until autovacuum's next
// ANALYZE), which made commits slower by the second. So the statement is
// prepared anew now and then, and the plan follows the data. Planning each
// commit afresh instead costs more CPU than the commit itself.
const replanEvery = 2 * time.Second

type preparedAppend struct {
	name string
	at   time.Time
}

// appendStatement returns the name of appendSQL prepared on conn.
func (s *Store) appendStatement(ctx context.Context, conn *pgx.Conn) (string, error) {
	v, ok := s.prepared.Load(conn)
	if ok && time.Since(v.(preparedAppend).at) < replanEvery {
		return v.(preparedAppend).name, nil
	}
	if ok {
		if err := conn.Deallocate(ctx, v.(preparedAppend).name); err != nil {
			return "", err
		}
	}
	p := preparedAppend{name: fmt.Sprintf("collabd_append_%d", s.stmtSeq.Add(1)), at: time.Now()}
	if _, err := conn.Prepare(ctx, p.name, appendSQL); err != nil {
		return "", err
	}
	s.prepared.Store(conn, p)
	return p.name, nil
}

// columns is a batch's edits as the arrays of appendSQL.
type columns struct {
	ids           []string
	firsts, lasts []int64
	doc           []string
	version       []int64
	client        []string
	seq           []int64
	author        []string
	delta         []string
	time          []time.Time
}

func columnsOf(batch []*group.Request[record.Rows]) *columns {
	n := 0
	for _, r := range batch {
		n += len(r.Value.Version)
	}
	c := &columns{
		ids:     make([]string, len(batch)),
		firsts:  make([]int64, len(batch)),
		lasts:   make([]int64, len(batch)),
		doc:     make([]string, 0, n),
		version: make([]int64, 0, n),
		client:  make([]string, 0, n),
		seq:     make([]int64, 0, n),
		author:  make([]string, 0, n),
		delta:   make([]string, 0, n),
		time:    make([]time.Time, 0, n),
	}
	for i, r := range batch {
		v := &r.Value
		c.ids[i], c.firsts[i], c.lasts[i] = r.Key, v.First, v.Last
		for range v.Version {
			c.doc = append(c.doc, r.Key)
		}
		c.version = append(c.version, v.Version...)
		c.client = append(c.client, v.Client...)
		c.seq = append(c.seq, v.Seq...)
		c.author = append(c.author, v.Author...)
		c.delta = append(c.delta, v.Delta...)
		c.time = append(c.time, v.Time...)
	}
	return c
}

// commit is the group committer's CommitFunc. A conflicting request whose
// op turns out to be stored already is answered as a duplicate, as the
// SQLite store does: the op is in the log, there is nothing to retry.
func (s *Store) commit(ctx context.Context, batch []*group.Request[record.Rows]) ([]error, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, dbErr(err, "commit edits")
	}
	defer conn.Release()
	errs, err := s.commitOnce(ctx, conn.Conn(), batch)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "edits_client_seq" {
		errs, err = s.commitWithoutStored(ctx, conn.Conn(), batch)
	}
	if err != nil {
		return nil, dbErr(err, "commit edits")
	}
	var conflicts []*group.Request[record.Rows]
	for i, e := range errs {
		if errors.Is(e, collab.ErrVersionTaken) {
			conflicts = append(conflicts, batch[i])
		}
	}
	if len(conflicts) > 0 {
		stored, err := s.stored(ctx, conn.Conn(), conflicts)
		if err != nil {
			return nil, dbErr(err, "commit edits")
		}
		for i, r := range batch {
			if errors.Is(errs[i], collab.ErrVersionTaken) && stored[r.Key] {
				errs[i] = record.AppendOutcome(collab.DocumentID(r.Key), true, false, true, 0, 0)
			}
		}
	}
	return errs, nil
}

// commitWithoutStored answers the requests with a stored op as duplicates
// and commits the others.
func (s *Store) commitWithoutStored(ctx context.Context, conn *pgx.Conn, batch []*group.Request[record.Rows]) ([]error, error) {
	stored, err := s.stored(ctx, conn, batch)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(batch))
	var rest []*group.Request[record.Rows]
	var at []int
	for i, r := range batch {
		if stored[r.Key] {
			errs[i] = record.AppendOutcome(collab.DocumentID(r.Key), true, false, true, 0, 0)
		} else {
			rest, at = append(rest, r), append(at, i)
		}
	}
	if len(rest) == 0 {
		return errs, nil
	}
	restErrs, err := s.commitOnce(ctx, conn, rest)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		errs[i] = restErrs[j]
	}
	return errs, nil
}

// stored returns the documents of batch that hold one of its ops already.
func (s *Store) stored(ctx context.Context, conn *pgx.Conn, batch []*group.Request[record.Rows]) (map[string]bool, error) {
	c := columnsOf(batch)
	rows, err := conn.Query(ctx, storedSQL, c.doc, c.client, c.seq)
	if err != nil {
		return nil, err
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	stored := make(map[string]bool, len(docs))
	for _, d := range docs {
		stored[d] = true
	}
	return stored, nil
}

// commitOnce runs appendSQL for batch.
func (s *Store) commitOnce(ctx context.Context, conn *pgx.Conn, batch []*group.Request[record.Rows]) ([]error, error) {
	stmt, err := s.appendStatement(ctx, conn)
	if err != nil {
		return nil, err
	}
	c := columnsOf(batch)
	index := make(map[string]int, len(batch))
	for i, r := range batch {
		index[r.Key] = i
	}
	b := &pgx.Batch{}
	b.Queue(stmt, c.ids, c.firsts, c.lasts, c.doc, c.version, c.client, c.seq, c.author, c.delta, c.time, record.Now())
	if s.failCommits.Add(-1) >= 0 {
		// Fault injection for tests: a statement that fails after the
		// writes, inside the same implicit transaction.
		b.Queue("SELECT 1 / $1::int", 0)
	} else {
		s.failCommits.Store(0)
	}
	// A batch runs as one implicit transaction: committed at its end, or
	// not at all.
	br := conn.SendBatch(ctx, b)
	errs := make([]error, len(batch))
	rows, err := br.Query()
	if err == nil {
		for rows.Next() {
			var (
				id             string
				found, deleted bool
				current        int64
			)
			if err = rows.Scan(&id, &found, &deleted, &current); err != nil {
				break
			}
			i := index[id]
			errs[i] = record.AppendOutcome(collab.DocumentID(id), found, deleted, false, current, c.firsts[i])
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	for i := 1; err == nil && i < b.Len(); i++ {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return errs, nil
}
