package client

import (
	"errors"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
)

func TestParseServerMessage(t *testing.T) {
	good := []struct {
		frame string
		typ   string
	}{
		{`{"type":"welcome","version":0,"doc":[{"insert":"a\n"}],"you":{"client":"c","user":{"id":"u","name":"U","color":"#000"},"role":"editor"},"peers":[]}`, collab.TypeWelcome},
		{`{"type":"welcome","version":3,"ops":[],"you":{"client":"c","user":{"id":"u"},"role":"viewer"},"peers":[{"client":"d","user":{"id":"v"},"range":null}]}`, collab.TypeWelcome},
		{`{"type":"welcome","version":1,"ops":[{"version":1,"delta":{"ops":[{"insert":"x"}]},"client":"rest","seq":0,"user":{"id":"u"}}],"you":{"client":"c","user":{"id":"u"},"role":"owner"}}`, collab.TypeWelcome},
		{`{"type":"ack","seq":1,"version":4}`, collab.TypeAck},
		{`{"type":"op","version":2,"delta":[{"retain":1},{"insert":"x","attributes":{"bold":true}}],"client":"d","seq":3,"user":{"id":"v","name":"V","color":"#fff"}}`, collab.TypeOp},
		{`{"type":"presence","client":"d","user":{"id":"v"},"range":{"index":1,"length":0}}`, collab.TypePresence},
		{`{"type":"presence","client":"d","user":{"id":"v"},"range":null}`, collab.TypePresence},
		{`{"type":"leave","client":"d"}`, collab.TypeLeave},
		{`{"type":"error","code":"invalid_op","message":"no","seq":2}`, collab.TypeError},
		{`{"type":"error","code":"bad_message","message":"no"}`, collab.TypeError},
	}
	for _, g := range good {
		m, err := parseServerMessage([]byte(g.frame))
		if err != nil || m.typ != g.typ {
			t.Errorf("parse %s: type %q, err %v; want %s", g.frame, m.typ, err, g.typ)
		}
	}
	bad := []string{
		``, `null`, `[]`, `"welcome"`, `{}`, `{"type":7}`, `{"type":"nope"}`,
		`{"type":"welcome","version":0,"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"a\n"}],"ops":[],"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"a"}],"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":0,"doc":[{"retain":1}],"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":-1,"doc":[{"insert":"\n"}],"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"\n"}]}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"\n"}],"you":{"client":"c","user":{"id":"u"},"role":"god"}}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"\n"}],"you":{"client":"c","role":"editor"}}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"\n"}],"you":{"client":"c","user":{"id":"u"},"role":"editor"},"peers":{}}`,
		`{"type":"welcome","version":0,"doc":[{"insert":"\n"}],"you":{"client":"c","user":{"id":"u"},"role":"editor"},"peers":[{"user":{"id":"u"}}]}`,
		`{"type":"welcome","version":1,"ops":[{"version":1,"client":"d","seq":1,"user":{"id":"u"}}],"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":1,"ops":[{"version":1,"delta":"x","client":"d","seq":1,"user":{"id":"u"}}],"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"welcome","version":1,"ops":{},"you":{"client":"c","user":{"id":"u"},"role":"editor"}}`,
		`{"type":"ack","seq":0,"version":1}`,
		`{"type":"ack","seq":1}`,
		`{"type":"ack","seq":1.5,"version":1}`,
		`{"type":"ack","seq":"1","version":1}`,
		`{"type":"ack","seq":1,"version":99999999999999999999}`,
		`{"type":"op","version":1,"delta":[{"insert":"x"}],"seq":1,"user":{"id":"u"}}`,
		`{"type":"op","version":1,"delta":null,"client":"d","seq":1,"user":{"id":"u"}}`,
		`{"type":"op","version":1,"delta":[{"insert":"\ud800"}],"client":"d","seq":1,"user":{"id":"u"}}`,
		`{"type":"op","version":1,"delta":[{"retain":-1}],"client":"d","seq":1,"user":{"id":"u"}}`,
		`{"type":"op","version":0,"delta":[{"insert":"x"}],"client":"d","seq":1,"user":{"id":"u"}}`,
		`{"type":"op","version":1,"delta":[{"insert":"x"}],"client":"d","seq":1}`,
		`{"type":"presence","client":"d","user":{"id":"u"}}`,
		`{"type":"presence","client":"d","user":{"id":"u"},"range":{"index":1}}`,
		`{"type":"presence","client":"d","user":{"id":"u"},"range":{"index":-1,"length":0}}`,
		`{"type":"presence","client":"d","user":{"id":"u"},"range":[1,2]}`,
		`{"type":"presence","user":{"id":"u"},"range":null}`,
		`{"type":"leave"}`,
		`{"type":"leave","client":""}`,
		`{"type":"error","message":"no code"}`,
		`{"type":"error","code":"x","seq":-1}`,
	}
	for _, frame := range bad {
		if m, err := parseServerMessage([]byte(frame)); !errors.Is(err, ErrProtocol) {
			t.Errorf("parse %s: type %q, err %v; want ErrProtocol", frame, m.typ, err)
		}
	}
}

func FuzzParseServerMessage(f *testing.F) {
	f.Add([]byte(`{"type":"welcome","version":0,"doc":[{"insert":"a\n"}],"you":{"client":"c","user":{"id":"u"},"role":"editor"},"peers":[]}`))
	f.Add([]byte(`{"type":"op","version":2,"delta":[{"retain":1},{"insert":"x"}],"client":"d","seq":3,"user":{"id":"v"}}`))
	f.Add([]byte(`{"type":"presence","client":"d","user":{"id":"v"},"range":{"index":1,"length":0}}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if _, err := parseServerMessage(frame); err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("error %v does not wrap ErrProtocol", err)
		}
	})
}

func TestBackoff(t *testing.T) {
	lo, hi := 10*time.Millisecond, 80*time.Millisecond
	for n, ceil := range []time.Duration{10, 20, 40, 80, 80, 80} {
		for range 200 {
			if d := backoff(lo, hi, n); d < 0 || d >= ceil*time.Millisecond {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, d, ceil*time.Millisecond)
			}
		}
	}
	for _, n := range []int{62, 63, 64, 1000} {
		if d := backoff(lo, hi, n); d < 0 || d >= hi {
			t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, d, hi)
		}
	}
}
