// Package record holds what both stores do alike without SQL: converting
// between collab values and the rows they keep (deltas and documents as the
// JSON text ot writes, times in microseconds, list cursors) and checking
// the inputs both refuse. Keeping it in one place is what makes the two
// stores behave identically.
package record

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Now is the current time as both databases keep it: UTC, microseconds.
func Now() time.Time { return Time(time.Now()) }

// Time is t as the databases keep it: UTC, rounded down to microseconds.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// OrNow is Time(t), or Now() for a zero t.
func OrNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return Time(t)
}

// Micros and FromMicros convert times for SQLite, which keeps integer
// microseconds since the Unix epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Delta encodes an edit's delta as stored: ot's JSON, verbatim.
func Delta(d ot.Delta) (string, error) {
	b, err := d.MarshalJSON()
	if err != nil {
		return "", collab.Errorf(collab.Invalid, "encode delta: %w", err)
	}
	return string(b), nil
}

// ParseDelta decodes a stored delta.
func ParseDelta(s string) (ot.Delta, error) {
	d, err := ot.ParseDelta([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("stored delta: %w", err)
	}
	return d, nil
}

// Doc encodes a snapshot's document as stored: the JSON of its delta.
func Doc(d ot.Doc) (string, error) {
	if d.Len() == 0 {
		return "", collab.Errorf(collab.Invalid, "encode document: the zero Doc is not a document")
	}
	b, err := d.MarshalJSON()
	if err != nil {
		return "", collab.Errorf(collab.Invalid, "encode document: %w", err)
	}
	return string(b), nil
}

// ParseDoc decodes a stored document in one pass (ot.ParseDoc: what
// ot.DocFromDelta(ot.ParseDelta(b)) would give, without the Delta).
func ParseDoc(b []byte) (ot.Doc, error) {
	d, err := ot.ParseDoc(b)
	if err != nil {
		return ot.Doc{}, fmt.Errorf("stored document: %w", err)
	}
	return d, nil
}

// RawSnapshot is a snapshot row whose document is not decoded yet:
// decoding a large one is most of the cost of loading it.
type RawSnapshot struct {
	Version   int64
	Content   []byte
	CreatedAt time.Time
}

// Decode decodes the document.
func (r RawSnapshot) Decode() (collab.Snapshot, error) {
	d, err := ParseDoc(r.Content)
	if err != nil {
		return collab.Snapshot{}, fmt.Errorf("snapshot %d: %w", r.Version, err)
	}
	return collab.Snapshot{Version: r.Version, Doc: d, CreatedAt: r.CreatedAt}, nil
}

// DecodeAsync starts decoding in another goroutine, so that a Load can
// read the edits meanwhile; the function returned waits for the result.
func (r RawSnapshot) DecodeAsync() func() (collab.Snapshot, error) {
	type result struct {
		snap collab.Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		snap, err := r.Decode()
		done <- result{snap, err}
	}()
	return func() (collab.Snapshot, error) {
		r := <-done
		return r.snap, r.err
	}
}

// CheckAppend refuses an Append whose edits cannot be stored: none, versions
// that do not count up by one from at least 1, or one (client, seq) twice.
func CheckAppend(doc collab.DocumentID, edits []collab.Edit) error {
	if len(edits) == 0 {
		return collab.Errorf(collab.Invalid, "append to %s: no edits", doc)
	}
	if edits[0].Version < 1 {
		return collab.Errorf(collab.Invalid, "append to %s: version %d, want at least 1", doc, edits[0].Version)
	}
	type op struct {
		client collab.ClientID
		seq    int64
	}
	var seen map[op]bool
	if len(edits) > 1 {
		seen = make(map[op]bool, len(edits))
	}
	for i, e := range edits {
		if want := edits[0].Version + int64(i); e.Version != want {
			return collab.Errorf(collab.Invalid, "append to %s: edit %d has version %d, want %d", doc, i, e.Version, want)
		}
		if seen != nil {
			k := op{e.Client, e.Seq}
			if seen[k] {
				return collab.Errorf(collab.Duplicate, "append to %s: op (%s, %d) twice in one call", doc, e.Client, e.Seq)
			}
			seen[k] = true
		}
	}
	return nil
}

// Range returns the edit numbers an Append covers, for messages.
func Range(edits []collab.Edit) string {
	if len(edits) == 1 {
		return strconv.FormatInt(edits[0].Version, 10)
	}
	return fmt.Sprintf("%d-%d", edits[0].Version, edits[len(edits)-1].Version)
}

// AppendOutcome turns what the database found for one Append into its
// answer, the same in both stores. found is false for an unknown document;
// current is the document's version before the Append, first the Append's
// first version.
func AppendOutcome(doc collab.DocumentID, found, deleted, duplicate bool, current, first int64) error {
	switch {
	case !found || deleted:
		return collab.Errorf(collab.NotFound, "document %s not found", doc)
	case duplicate:
		return collab.Errorf(collab.Duplicate, "an op of this append to %s is stored already", doc)
	case current >= first:
		return collab.Errorf(collab.Conflict, "version %d of %s is taken (the document is at %d)", first, doc, current)
	case current < first-1:
		return collab.Errorf(collab.Invalid, "edit %d of %s does not follow version %d", first, doc, current)
	}
	return nil
}

// Limit is a page's size: 100 when not given, at most 1000.
func Limit(p collab.Page) int {
	switch {
	case p.Limit <= 0:
		return 100
	case p.Limit > 1000:
		return 1000
	}
	return p.Limit
}

// A cursor names the last item of a page by its sort key: the document's
// last activity and id. It is opaque to clients.
func Cursor(t time.Time, id collab.DocumentID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + string(id)))
}

// ParseCursor decodes a cursor from Cursor; "" is the start.
func ParseCursor(c string) (t time.Time, id collab.DocumentID, ok bool, err error) {
	if c == "" {
		return time.Time{}, "", false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		us, rest, found := strings.Cut(string(b), ".")
		n, perr := strconv.ParseInt(us, 10, 64)
		if found && perr == nil && rest != "" {
			return FromMicros(n), collab.DocumentID(rest), true, nil
		}
	}
	// A malformed parameter of the request: bad_request (400), as for
	// every other list's cursor.
	return time.Time{}, "", false, collab.Errorf(collab.BadRequest, "cursor %q is not one this server gave", c)
}

// PruneEvery is a policy's bucket width for SQL: a policy without Every
// keeps one snapshot per everything, which is version 0.
func PruneEvery(p collab.PrunePolicy) int64 {
	if p.Every <= 0 {
		return math.MaxInt64
	}
	return p.Every
}

// CheckPrune refuses a policy that makes no sense.
func CheckPrune(p collab.PrunePolicy) error {
	if p.KeepLatest < 0 {
		return collab.Errorf(collab.Invalid, "prune: keep %d latest snapshots", p.KeepLatest)
	}
	return nil
}

// CheckRole refuses a role that is none of the three.
func CheckRole(r collab.Role) error {
	if !r.Valid() {
		return collab.Errorf(collab.Invalid, "unknown role %q", r)
	}
	return nil
}

// CheckUser refuses a user without id or username, and gives a user without
// a colour its colour.
func CheckUser(u *collab.User) error {
	if u.ID == "" || u.Username == "" {
		return collab.Errorf(collab.Invalid, "a user needs an id and a username")
	}
	if u.Color == "" {
		u.Color = collab.ColorFor(u.ID)
	}
	return nil
}

// NotFound is the error for a missing thing, named for the message.
func NotFound(format string, args ...any) error {
	return collab.Errorf(collab.NotFound, format+" not found", args...)
}

// Rows is an Append's edits encoded for the database, column by column:
// what both stores' committers write.
type Rows struct {
	First, Last int64
	Version     []int64
	Client      []string
	Seq         []int64
	Author      []string
	Delta       []string
	Time        []time.Time // an edit's CreatedAt, or the time of the Append
}

// EncodeAppend checks edits (see CheckAppend) and encodes them.
func EncodeAppend(doc collab.DocumentID, edits []collab.Edit) (Rows, error) {
	if err := CheckAppend(doc, edits); err != nil {
		return Rows{}, err
	}
	now := Now()
	n := len(edits)
	r := Rows{
		First:   edits[0].Version,
		Last:    edits[n-1].Version,
		Version: make([]int64, n),
		Client:  make([]string, n),
		Seq:     make([]int64, n),
		Author:  make([]string, n),
		Delta:   make([]string, n),
		Time:    make([]time.Time, n),
	}
	for i, e := range edits {
		d, err := Delta(e.Delta)
		if err != nil {
			return Rows{}, fmt.Errorf("append edit %d to %s: %w", e.Version, doc, err)
		}
		r.Version[i], r.Client[i], r.Seq[i], r.Author[i], r.Delta[i], r.Time[i] =
			e.Version, string(e.Client), e.Seq, string(e.Author), d, OrNow(e.CreatedAt, now)
	}
	return r, nil
}

// ContextError is the error for a call whose context ended: unavailable
// (the store did not answer in time), still matching context.Canceled or
// context.DeadlineExceeded with errors.Is.
func ContextError(err error) error {
	return &collab.Error{Code: collab.Unavailable, Message: "no answer from the store in time", Err: err}
}
