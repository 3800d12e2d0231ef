package session

import (
	"context"
	"testing"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// setPresence sends a selection in terms of version, as a client that
// holds that version does.
func (sp *simPeer) setPresence(r *ot.Range, version int64) {
	sp.sim.t.Helper()
	if !sp.p.SetPresence(context.Background(), r, &version) {
		sp.sim.t.Fatalf("%s: presence refused: session gone", sp.name)
	}
}

// rangeSeen waits until sp has a presence of peer0 that satisfies cond.
func (sp *simPeer) rangeSeen(what string, cond func(r ot.Range) bool) ot.Range {
	sp.sim.t.Helper()
	sp.waitFor(what, func() bool { r := sp.others["peer0"]; return r != nil && cond(*r) })
	return *sp.others["peer0"]
}

// lateJoinerSees returns peer0's range as the welcome of a new peer has it.
func (s *sim) lateJoinerSees(name string) *ot.Range {
	s.t.Helper()
	return s.join(name, collab.Editor).others["peer0"]
}

// TestPresenceWithOwnOpUncommittedLandsAfterTheTypedText: a client types
// at its cursor and says where the cursor is in terms of the version it
// holds, which its op is not part of yet. Once the op commits, everyone
// sees the cursor right after the typed text, not one further; also when
// the op commits while the presence is on its way.
func TestPresenceWithOwnOpUncommittedLandsAfterTheTypedText(t *testing.T) {
	log := newMemLog()
	log.create("doc", "hello")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	block := make(chan struct{})
	log.mu.Lock()
	log.blockNext = block
	log.mu.Unlock()
	a.typeAt(2, "X") // "heXllo": a's cursor is after the X, at 3 in a's document
	// In terms of version 0, which a holds, the cursor is where the X goes.
	a.setPresence(&ot.Range{Index: 2}, 0)
	b.rangeSeen("a's presence while its op waits for the store", func(ot.Range) bool { return true })
	close(block)
	b.waitFor("a's edit", func() bool { return b.version == 1 })
	if r := b.others["peer0"]; r == nil || *r != (ot.Range{Index: 3}) {
		t.Errorf("after the commit b sees a's cursor at %v, want {3 0}", r)
	}
	if r := s.lateJoinerSees("late1"); r == nil || *r != (ot.Range{Index: 3}) {
		t.Errorf("a late joiner sees a's cursor at %v, want {3 0}", r)
	}

	// a has not read its ack: it still holds version 0 and selects "llo"
	// in those terms, {2 3}. The server has committed the X since.
	a.setPresence(&ot.Range{Index: 2, Length: 3}, 0)
	if r := b.rangeSeen("a's selection", func(r ot.Range) bool { return r.Length == 3 }); r != (ot.Range{Index: 3, Length: 3}) {
		t.Errorf("b sees a's selection at %v, want {3 3} (\"llo\" after the X)", r)
	}
	if r := s.lateJoinerSees("late2"); r == nil || *r != (ot.Range{Index: 3, Length: 3}) {
		t.Errorf("a late joiner sees a's selection at %v, want {3 3}", r)
	}
}

// TestPresenceBehindAnotherPeersEditIsMovedForward: an edit committed
// while a presence was on its way moves the presence as it moved the text.
func TestPresenceBehindAnotherPeersEditIsMovedForward(t *testing.T) {
	log := newMemLog()
	log.create("doc", "hello")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	b.typeAt(0, "YY")
	b.waitFor("ack", b.synced)
	// a has not seen version 1: it selects "ell" of "hello".
	a.setPresence(&ot.Range{Index: 1, Length: 3}, 0)
	if r := b.rangeSeen("a's selection", func(ot.Range) bool { return true }); r != (ot.Range{Index: 3, Length: 3}) {
		t.Errorf("b sees a's selection at %v, want {3 3} (\"ell\" of \"YYhello\")", r)
	}
	if r := s.lateJoinerSees("late"); r == nil || *r != (ot.Range{Index: 3, Length: 3}) {
		t.Errorf("a late joiner sees a's selection at %v, want {3 3}", r)
	}
}

// TestStalePresenceIsIgnored: a presence in terms of a version older than
// the session's window of edits cannot be moved without the store; the
// peer keeps its previous range, moved by every edit since. A null range
// (not focused) needs no moving and is taken whatever its version.
func TestStalePresenceIsIgnored(t *testing.T) {
	log := newMemLog()
	log.create("doc", "hello")
	cfg := testConfig(log)
	cfg.Window = 4
	s := newSim(t, log, cfg, "doc", 2)
	a, b := s.peers[0], s.peers[1]
	a.setPresence(&ot.Range{Index: 1, Length: 1}, 0)
	for range 10 {
		b.typeAt(0, "b")
		b.waitFor("ack", b.synced)
	}
	a.setPresence(&ot.Range{Index: 0, Length: 3}, 2) // versions 3..10 moved it; 3 is out of the window
	if r := s.lateJoinerSees("late1"); r == nil || *r != (ot.Range{Index: 11, Length: 1}) {
		t.Errorf("after a stale presence a late joiner sees a at %v, want the previous range moved to {11 1}", r)
	}
	a.setPresence(nil, 2)
	if r := s.lateJoinerSees("late2"); r != nil {
		t.Errorf("after a stale blur a late joiner sees a at %v, want nil", r)
	}
}

// TestPresenceVersionAheadIsRefused: a version the document has not
// reached is a client bug: answered with version_ahead, nothing changes.
func TestPresenceVersionAheadIsRefused(t *testing.T) {
	log := newMemLog()
	log.create("doc", "hello")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a := s.peers[0]
	a.setPresence(&ot.Range{Index: 1, Length: 1}, 0)
	a.setPresence(&ot.Range{Index: 4}, 1)
	a.waitFor("an error", func() bool { return len(a.errors) > 0 })
	if e := a.errors[0]; e.Code != collab.VersionAhead || e.Seq != 0 {
		t.Errorf("answer = %+v, want version_ahead without a seq", e)
	}
	if r := s.lateJoinerSees("late"); r == nil || *r != (ot.Range{Index: 1, Length: 1}) {
		t.Errorf("after the refused presence a late joiner sees a at %v, want {1 1} unchanged", r)
	}
}
