package session

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/internal/traces"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/store/postgres"
	"github.com/collabd/collabd/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// traceDeltas turns a trace's patches into one edit each.
func traceDeltas(tb testing.TB, name string) ([]ot.Delta, *traces.Trace) {
	tb.Helper()
	tr, err := traces.Load(name)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]ot.Delta, len(tr.Patches))
	for i, p := range tr.Patches {
		d := ot.Delta{}
		if p.Pos > 0 {
			d = append(d, ot.Retain(p.Pos, nil))
		}
		if p.Ins != "" {
			d = append(d, ot.InsertText(p.Ins, nil))
		}
		if p.Del > 0 {
			d = append(d, ot.Delete(p.Del))
		}
		out[i] = d
	}
	return out, tr
}

// pushTrace pipes every edit of a trace into one session as one client
// that pipelines its ops (each based on the version its previous op will
// get), and waits until all are acknowledged: every edit durable.
func pushTrace(tb testing.TB, st collab.Store, deltas []ot.Delta, start string) (ot.Doc, time.Duration) {
	tb.Helper()
	ctx := context.Background()
	user, err := st.CreateUser(ctx, collab.User{ID: collab.UserID(collab.NewID()), Username: collab.NewID(), Name: "bench", Color: "#000000", CreatedAt: time.Now().UTC()}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	doc0, err := ot.DocFromDelta(ot.Delta{ot.InsertText(start+"\n", nil)})
	if err != nil {
		tb.Fatal(err)
	}
	d, err := st.CreateDocument(ctx, collab.Document{ID: collab.DocumentID(collab.NewID()), Title: "trace", Owner: user.ID}, collab.Snapshot{Doc: doc0, CreatedAt: time.Now().UTC()})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := testConfig(st)
	cfg.QueueLen = 1 << 16
	reg := NewRegistry(cfg)
	defer reg.Close(ctx)
	p, err := reg.Join(ctx, d.ID, JoinRequest{Client: "pusher", User: user.Info(), Role: collab.Editor})
	if err != nil {
		tb.Fatal(err)
	}
	<-p.Outbox() // welcome
	acked := make(chan error, 1)
	go func() {
		for n := 0; n < len(deltas); {
			m, ok := <-p.Outbox()
			if !ok {
				acked <- collab.Errorf(collab.Internal, "outbox closed after %d acks", n)
				return
			}
			if bytes.HasPrefix(m.Frame, []byte(`{"type":"ack"`)) {
				n++
				continue
			}
			acked <- collab.Errorf(collab.Internal, "unexpected message %s", m.Frame)
			return
		}
		acked <- nil
	}()
	began := time.Now()
	for i, delta := range deltas {
		if !p.Submit(ctx, int64(i+1), int64(i), delta) {
			tb.Fatal("session gone")
		}
	}
	if err := <-acked; err != nil {
		tb.Fatal(err)
	}
	took := time.Since(began)
	p.Leave()
	content, err := collab.DocAt(ctx, st, d.ID, int64(len(deltas)))
	if err != nil {
		tb.Fatal(err)
	}
	return content, took
}

func TestTracePushedThroughASessionIsStoredExactly(t *testing.T) {
	deltas, tr := traceDeltas(t, "friendsforever_flat")
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, _ := pushTrace(t, st, deltas, tr.Start)
	if got.Text() != tr.End+"\n" {
		t.Fatalf("stored document after the trace differs from its end content (%d vs %d units)", got.Len(), len(tr.End)+1)
	}
}

// BenchmarkTracePush: the automerge-paper trace (259,778 edits) pushed
// straight into one session, every edit durable before its ack. Run with
// -benchtime=1x; edits/s is the figure.
func BenchmarkTracePush(b *testing.B) {
	deltas, tr := traceDeltas(b, "automerge-paper")
	stores := map[string]func(b *testing.B) collab.Store{
		"sqlite": func(b *testing.B) collab.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
		"postgres": func(b *testing.B) collab.Store {
			st, err := postgres.Open(context.Background(), pgtest.Shared(b).NewDatabase(b))
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			st := stores[name](b)
			defer st.Close()
			var pushing time.Duration
			for range b.N {
				got, took := pushTrace(b, st, deltas, tr.Start)
				if got.Text() != tr.End+"\n" {
					b.Fatal("stored document differs from the trace's end content")
				}
				pushing += took
			}
			b.ReportMetric(float64(len(deltas)*b.N)/pushing.Seconds(), "edits/s")
		})
	}
}
