package session

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// savingLog is a memLog that records when each snapshot write started and
// how many ran at once, and can hold writes until released.
type savingLog struct {
	*memLog
	hold chan struct{} // when non-nil, SaveSnapshot waits for it to close

	mu      sync.Mutex
	started []time.Time
	running int
	most    int
}

func (l *savingLog) SaveSnapshot(ctx context.Context, id collab.DocumentID, s collab.Snapshot) error {
	l.mu.Lock()
	l.started = append(l.started, time.Now())
	l.running++
	l.most = max(l.most, l.running)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running--
		l.mu.Unlock()
	}()
	if l.hold != nil {
		select {
		case <-l.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return l.memLog.SaveSnapshot(ctx, id, s)
}

func (l *savingLog) stats() (started []time.Time, running, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.started...), l.running, l.most
}

func insertX(client collab.ClientID, seq, base int64) Edit {
	return Edit{Client: client, Seq: seq, User: collab.UserInfo{ID: "u"}, Base: base, Delta: ot.Delta{ot.InsertText("x", nil)}}
}

// newest returns the version of a document's newest snapshot.
func newest(t *testing.T, log collab.Log, id collab.DocumentID) int64 {
	t.Helper()
	snap, err := log.SnapshotAt(context.Background(), id, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Version
}

// TestTimedCheckpointsAreSpreadOverTheInterval: documents opened in the
// same instant are checkpointed between half and all of the interval
// later, not all in the same second.
func TestTimedCheckpointsAreSpreadOverTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &savingLog{memLog: newMemLog()}
		cfg := testConfig(log)
		cfg.CheckpointInterval = 30 * time.Second
		reg := NewRegistry(cfg)
		defer reg.Close(context.Background())
		const docs = 50
		opened := time.Now()
		for i := range docs {
			id := collab.DocumentID(fmt.Sprintf("doc%d", i))
			log.create(id, "")
			if _, err := reg.Submit(context.Background(), id, insertX("rest", 1, 0)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(cfg.CheckpointInterval + time.Second)
		synctest.Wait()
		started, _, _ := log.stats()
		if len(started) != docs {
			t.Fatalf("%d checkpoints after the interval, want one per document (%d)", len(started), docs)
		}
		seconds := map[int]bool{}
		for i := range docs {
			if v := newest(t, log, collab.DocumentID(fmt.Sprintf("doc%d", i))); v != 1 {
				t.Fatalf("doc%d: newest snapshot %d, want 1", i, v)
			}
		}
		for _, at := range started {
			after := at.Sub(opened)
			if after < cfg.CheckpointInterval/2 || after > cfg.CheckpointInterval {
				t.Errorf("a checkpoint started %v after the edit, want between %v and %v", after, cfg.CheckpointInterval/2, cfg.CheckpointInterval)
			}
			seconds[int(after/time.Second)] = true
		}
		if len(seconds) < 5 {
			t.Errorf("%d checkpoints fell in only %d distinct seconds: not spread", docs, len(seconds))
		}
	})
}

// TestCheckpointAfterEdits: a session checkpoints by edit count, between
// half and all of CheckpointEvery edits after the last checkpoint.
func TestCheckpointAfterEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &savingLog{memLog: newMemLog()}
		log.create("doc", "")
		cfg := testConfig(log)
		cfg.CheckpointEvery = 10
		reg := NewRegistry(cfg)
		defer reg.Close(context.Background())
		for seq := int64(1); seq <= 10; seq++ {
			if _, err := reg.Submit(context.Background(), "doc", insertX("rest", seq, seq-1)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if seq < 5 && newest(t, log, "doc") != 0 {
				t.Fatalf("checkpointed after %d edits, want at least 5", seq)
			}
		}
		if v := newest(t, log, "doc"); v < 5 || v > 10 {
			t.Fatalf("newest snapshot after 10 edits is %d, want one between 5 and 10", v)
		}
	})
}

// TestCheckpointsWaitForASlot: however many sessions are due, at most
// Config.Checkpoints snapshot writes run at once, and edits are acked
// while the others wait.
func TestCheckpointsWaitForASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &savingLog{memLog: newMemLog(), hold: make(chan struct{})}
		cfg := testConfig(log)
		cfg.CheckpointEvery = 1
		cfg.Checkpoints = 2
		reg := NewRegistry(cfg)
		defer reg.Close(context.Background())
		const docs = 10
		for i := range docs {
			id := collab.DocumentID(fmt.Sprintf("doc%d", i))
			log.create(id, "")
			if _, err := reg.Submit(context.Background(), id, insertX("rest", 1, 0)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if _, running, _ := log.stats(); running != cfg.Checkpoints {
			t.Fatalf("%d snapshot writes running, want the %d slots full", running, cfg.Checkpoints)
		}
		// Every document still takes edits while its checkpoint waits.
		for i := range docs {
			if _, err := reg.Submit(context.Background(), collab.DocumentID(fmt.Sprintf("doc%d", i)), insertX("rest", 2, 1)); err != nil {
				t.Fatal(err)
			}
		}
		close(log.hold)
		synctest.Wait()
		started, running, most := log.stats()
		if most > cfg.Checkpoints || running != 0 {
			t.Fatalf("up to %d snapshot writes ran at once (%d still running), want at most %d", most, running, cfg.Checkpoints)
		}
		if len(started) < docs {
			t.Fatalf("%d snapshots written, want at least one per document (%d)", len(started), docs)
		}
		for i := range docs {
			if v := newest(t, log, collab.DocumentID(fmt.Sprintf("doc%d", i))); v < 1 {
				t.Fatalf("doc%d: no checkpoint", i)
			}
		}
	})
}

// TestCheckpointDueWhileOneIsRunning: when the next checkpoint comes due
// while a slow one is still being written, the session waits for another
// interval instead of spinning on its timer, keeps taking edits, and
// checkpoints again once the store answers.
func TestCheckpointDueWhileOneIsRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &savingLog{memLog: newMemLog(), hold: make(chan struct{})}
		log.create("doc", "")
		cfg := testConfig(log)
		cfg.CheckpointInterval = 2 * time.Second
		cfg.StoreTimeout = time.Minute
		reg := NewRegistry(cfg)
		defer reg.Close(context.Background())
		if _, err := reg.Submit(context.Background(), "doc", insertX("rest", 1, 0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // the first checkpoint starts and hangs
		synctest.Wait()
		if started, running, _ := log.stats(); len(started) != 1 || running != 1 {
			t.Fatalf("%d checkpoints started, %d running; want the first one hanging", len(started), running)
		}
		for seq := int64(2); seq <= 5; seq++ {
			if _, err := reg.Submit(context.Background(), "doc", insertX("rest", seq, seq-1)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second) // due passes while the first is running
		}
		synctest.Wait() // hangs if the session spins on a timer that is always due
		close(log.hold)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if v := newest(t, log, "doc"); v != 5 {
			t.Fatalf("newest snapshot %d after the store answered, want 5", v)
		}
	})
}

// TestShutdownClosesPeersBeforeTheFinalCheckpoint: at shutdown, peers are
// closed with 1001 as soon as their edits are committed, not after a final
// checkpoint that may wait for the store or for a slot.
func TestShutdownClosesPeersBeforeTheFinalCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &savingLog{memLog: newMemLog(), hold: make(chan struct{})}
		release := sync.OnceFunc(func() { close(log.hold) })
		defer release() // on failure too, so that Close returns
		log.create("doc", "")
		reg := NewRegistry(testConfig(log))
		p := joinEditor(t, reg, "doc", "c")
		if _, err := reg.Submit(context.Background(), "doc", insertX("rest", 1, 0)); err != nil {
			t.Fatal(err)
		}
		closed := make(chan error, 1)
		go func() { closed <- reg.Close(context.Background()) }()
		synctest.Wait()
		if _, running, _ := log.stats(); running != 1 {
			t.Fatalf("%d snapshot writes running at shutdown, want the final checkpoint hanging", running)
		}
		if code, _ := p.CloseCode(); code != collab.CloseGoingAway {
			t.Fatalf("peer close code %d while the final checkpoint hangs, want 1001", code)
		}
		release()
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if v := newest(t, log, "doc"); v != 1 {
			t.Fatalf("newest snapshot %d, want the final checkpoint at 1", v)
		}
	})
}
