package main

import (
	"encoding/json"
	"testing"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

func TestParseMsg(t *testing.T) {
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	user := collab.UserInfo{ID: "u1", Name: `Ann "client":"x" \ seq`, Color: "#123456"}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  msg
	}{
		{"op as the server writes it", mustJSON(collab.OpMessage{Type: collab.TypeOp, WireEdit: collab.WireEdit{
			Version: 42, Delta: ot.Delta{ot.Retain(3, nil), ot.InsertText(`say "client":"no","seq":9`, nil)},
			Client: "cbab-0-12", Seq: 7, User: user,
		}}), msg{kind: kindOp, version: 42, seq: 7, client: []byte("cbab-0-12")}},
		{"op with a format named client", mustJSON(collab.OpMessage{Type: collab.TypeOp, WireEdit: collab.WireEdit{
			Version: 3, Delta: ot.Delta{ot.Retain(3, ot.Attributes{"client": "evil", "seq": 99.0})},
			Client: "c", Seq: 1, User: user,
		}}), msg{kind: kindOp, version: 3, seq: 1, client: []byte("c")}},
		{"ack", mustJSON(collab.Ack{Type: collab.TypeAck, Seq: 5, Version: 1234}), msg{kind: kindAck, seq: 5, version: 1234}},
		{"welcome with a doc", mustJSON(collab.Welcome{Type: collab.TypeWelcome, Version: 9, Doc: new(ot.NewDoc()),
			You: collab.You{Client: "c", User: user, Role: collab.Editor}}), msg{kind: kindWelcome, version: 9}},
		{"error with seq", mustJSON(collab.ErrorMessage{Type: collab.TypeError, Code: collab.RateLimited, Message: `too "seq":1 fast`, Seq: 8}),
			msg{kind: kindError, code: "rate_limited", seq: 8}},
		{"error without seq", mustJSON(collab.ErrorMessage{Type: collab.TypeError, Code: collab.BadMessage, Message: "no"}),
			msg{kind: kindError, code: "bad_message"}},
		{"presence", mustJSON(collab.PresenceMessage{Type: collab.TypePresence, Client: "c", User: user}), msg{kind: kindOther}},
		{"leave", mustJSON(collab.LeaveMessage{Type: collab.TypeLeave, Client: "c"}), msg{kind: kindOther}},
		// Another field order takes the slow path.
		{"op reordered", []byte(`{"client":"d","seq":3,"type":"op","version":8,"delta":[{"insert":"x"}]}`),
			msg{kind: kindOp, version: 8, seq: 3, client: []byte("d")}},
		{"ack reordered", []byte(`{"version":8,"seq":2,"type":"ack"}`), msg{kind: kindAck, version: 8, seq: 2}},
		{"op with an escaped client id", []byte(`{"type":"op","version":1,"delta":[],"client":"a\"b","seq":2,"user":{}}`),
			msg{kind: kindOp, version: 1, seq: 2, client: []byte(`a"b`)}},
		{"not JSON", []byte(`nope`), msg{kind: kindOther}},
		{"unknown type", []byte(`{"type":"hint"}`), msg{kind: kindOther}},
	} {
		got := parseMsg(tc.frame)
		if got.kind != tc.want.kind || got.version != tc.want.version || got.seq != tc.want.seq ||
			string(got.client) != string(tc.want.client) || got.code != tc.want.code {
			t.Errorf("%s: parseMsg(%s) = %+v (client %q), want %+v (client %q)",
				tc.name, tc.frame, got, got.client, tc.want, tc.want.client)
		}
	}
}

func TestParseMsgOpAllocatesNothing(t *testing.T) {
	frame, _ := json.Marshal(collab.OpMessage{Type: collab.TypeOp, WireEdit: collab.WireEdit{
		Version: 42, Delta: ot.Delta{ot.Retain(3, nil), ot.InsertText("word ", nil)},
		Client: "cbab-0-12", Seq: 7, User: collab.UserInfo{ID: "u", Name: "n", Color: "#000000"},
	}})
	if n := testing.AllocsPerRun(100, func() { parseMsg(frame) }); n != 0 {
		t.Errorf("parseMsg of an op allocates %v times, want 0", n)
	}
}
