package session

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

func TestOpFrameIsTheOpMessage(t *testing.T) {
	s := &Session{cfg: &Config{}, users: map[collab.UserID]collab.UserInfo{}, userFrames: map[collab.UserInfo][]byte{}}
	users := []collab.UserInfo{
		{ID: "u1", Name: "Ada", Color: "#ff0000"},
		{ID: "u<2>", Name: "Bob & \"Co\" \u2028 é", Color: "#00ff00"},
		{ID: "u3", Name: "bad \xff utf8", Color: ""},
	}
	for _, u := range users {
		s.users[u.ID] = u
	}
	deltas := []ot.Delta{
		{ot.InsertText("hello ", nil)},
		{ot.Retain(5, nil), ot.InsertText("<b>a & b</b> \u2029 \"q\" \\ é 😀", ot.Attributes{"bold": true, "link": "http://x/?a=1&b=<2>"})},
		{ot.Retain(3, ot.Attributes{"italic": nil}), ot.Delete(2)},
		{ot.InsertEmbed("image", json.RawMessage(`{"src":"<x>"}`), nil)},
	}
	clients := []collab.ClientID{"c1", "client \"quoted\"", "<html>&", "tab\tand\nnewline", "é"}
	n := 0
	for i, d := range deltas {
		for j, c := range clients {
			u := users[(i+j)%len(users)]
			e := collab.Edit{Version: int64(1 + n*1000003), Client: c, Seq: int64(n), Author: u.ID, Delta: d, CreatedAt: time.Now()}
			n++
			got := string(s.opFrame(e))
			want := mustJSON(collab.OpMessage{Type: collab.TypeOp, WireEdit: collab.WireEdit{Version: e.Version, Delta: d, Client: c, Seq: e.Seq, User: u}})
			if got != want {
				t.Errorf("opFrame(%d) =\n%s\nwant\n%s", n, got, want)
			}
		}
	}
	// A user whose name changed is encoded anew, not served from the cache.
	u := users[0]
	u.Name = "Ada L."
	s.users[u.ID] = u
	e := collab.Edit{Version: 9, Client: "c1", Seq: 9, Author: u.ID, Delta: deltas[0]}
	want := mustJSON(collab.OpMessage{Type: collab.TypeOp, WireEdit: collab.WireEdit{Version: 9, Delta: deltas[0], Client: "c1", Seq: 9, User: u}})
	if got := string(s.opFrame(e)); got != want {
		t.Errorf("after a rename: opFrame = %s, want %s", got, want)
	}
}
