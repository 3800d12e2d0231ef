package client

import (
	"fmt"

	"github.com/collabd/collabd/ot"
)

// state is the client's side of the document: ot.js's three-state client
// (synchronized, awaiting ack, awaiting ack with buffer). It does no I/O,
// takes no lock and calls no callback; Client guards it with its mutex.
//
// Invariant: doc = (server document at version) · inflight.delta · buffer.
// inflight.delta always applies to the server document at version, buffer
// to that document after inflight.
type state struct {
	doc      ot.Doc
	version  int64    // newest server version applied to doc
	inflight *pending // sent or waiting to be sent, not acknowledged; nil = synchronized
	buffer   ot.Delta // local edits made after inflight, composed into one; nil = none
	lastSeq  int64    // seq of the newest op created; seqs are never reused
}

// bufferSeq is the seq the buffer will be sent with: a buffer exists only
// while an op is in flight, and becomes the next op created (ack).
// SubmitSeq promises it to its callers, so drop and reset burn it.
func (s *state) bufferSeq() int64 { return s.lastSeq + 1 }

// pending is the op in flight.
type pending struct {
	seq int64
	// base and orig are the op exactly as it was first sent, and as it is
	// resent after a reconnect or a retry: (client, seq) names one op, and
	// the server transforms it from base itself (protocol: exactly once).
	base int64
	orig ot.Delta
	// delta is the same edit transformed past every remote edit since base:
	// it applies at version, and is what the server commits if nothing else
	// comes first.
	delta ot.Delta
}

// Status names the three states, for tests and logs.
type Status string

const (
	Synchronized          Status = "synchronized"
	AwaitingAck           Status = "awaiting ack"
	AwaitingAckWithBuffer Status = "awaiting ack with buffer"
)

func (s *state) status() Status {
	switch {
	case s.inflight == nil:
		return Synchronized
	case s.buffer == nil:
		return AwaitingAck
	}
	return AwaitingAckWithBuffer
}

// local applies an edit made on the local document. It returns the new
// in-flight op when the client was synchronized (the caller sends it), or
// nil when the edit joined the buffer. fits vets the delta of the op that
// will carry the edit (the edit itself, or the buffer with it): the
// server's limit on a message. On error nothing changed.
func (s *state) local(d ot.Delta, fits func(op ot.Delta) error) (*pending, error) {
	doc, err := s.doc.Apply(d)
	if err != nil {
		return nil, err
	}
	op := d
	if s.inflight != nil && s.buffer != nil {
		op = ot.Compose(s.buffer, d)
	}
	if err := fits(op); err != nil {
		return nil, err
	}
	s.doc = doc
	if s.inflight == nil {
		s.inflight = s.newPending(op)
		return s.inflight, nil
	}
	s.buffer = op
	return nil, nil
}

func (s *state) newPending(d ot.Delta) *pending {
	s.lastSeq++
	return &pending{seq: s.lastSeq, base: s.version, orig: d, delta: d}
}

// remote applies the edit r, committed by the server as version+1 and
// based on version, and returns it as it changed the local document.
//
// The server's edit came first, so it wins ties, and every local op is
// rebased onto it. With S the server document at version, I the in-flight
// op and B the buffer (Transform(a, b, p) rebases b onto a; p: a came
// first):
//
//	                 S
//	            I  ↙   ↘  r
//	          S·I        S·r
//	    B  ↙     ↘ r1     ↙ I' = Transform(r, I, true)
//	S·I·B        S·I·r1 = S·r·I'
//	    ↘ r2    ↙ B' = Transform(r1, B, true)
//	  S·I·B·r2 = S·r·I'·B'
//
//	r1 = Transform(I, r, false)   r rebased past I
//	r2 = Transform(B, r1, false)  then past B: what the local document takes
//
// Afterwards inflight is I' and buffer is B', both based on version+1, as
// the server will see them. On error (r does not fit) nothing changed.
func (s *state) remote(r ot.Delta) (ot.Delta, error) {
	applied := r
	var inflight *pending
	var buffer ot.Delta
	if s.inflight != nil {
		p := *s.inflight
		p.delta = ot.Transform(r, s.inflight.delta, true)
		applied = ot.Transform(s.inflight.delta, applied, false)
		inflight = &p
	}
	if s.buffer != nil {
		buffer = ot.Transform(applied, s.buffer, true)
		applied = ot.Transform(s.buffer, applied, false)
	}
	doc, err := s.doc.Apply(applied)
	if err != nil {
		return nil, fmt.Errorf("apply remote edit %d: %w", s.version+1, err)
	}
	s.doc, s.version, s.inflight, s.buffer = doc, s.version+1, inflight, buffer
	return applied, nil
}

// ack records that the in-flight op was committed as version (which the
// caller has checked is version+1). The buffer, if any, becomes the next
// in-flight op and is returned for the caller to send.
func (s *state) ack(version int64) *pending {
	s.inflight = nil
	s.version = version
	if s.buffer == nil {
		return nil
	}
	s.inflight = s.newPending(s.buffer)
	s.buffer = nil
	return s.inflight
}

// unacked returns the local edits the server has not acknowledged, as one
// delta on the server document at version (nil if none).
func (s *state) unacked() ot.Delta {
	switch {
	case s.inflight == nil:
		return nil
	case s.buffer == nil:
		return s.inflight.delta
	}
	return ot.Compose(s.inflight.delta, s.buffer)
}

// drop forgets the in-flight op and the buffer, for a resync; the local
// document still holds their effect until the next snapshot replaces it.
func (s *state) drop() {
	s.burnBuffer()
	s.inflight, s.buffer = nil, nil
}

// burnBuffer uses up the seq promised to a buffer that is dropped, so no
// later op takes it: an app correlating seqs never sees one acked that
// it saw dropped. The server takes any seq above the newest (gaps are fine).
func (s *state) burnBuffer() {
	if s.buffer != nil {
		s.lastSeq++
	}
}

// reset replaces everything with a snapshot, dropping unacknowledged edits;
// it reports whether there were any. lastSeq is kept: a seq is never reused.
func (s *state) reset(doc ot.Doc, version int64) (dropped bool) {
	dropped = s.inflight != nil || s.buffer != nil
	s.burnBuffer()
	s.doc, s.version, s.inflight, s.buffer = doc, version, nil, nil
	return dropped
}
