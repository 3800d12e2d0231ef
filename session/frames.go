package session

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/collabd/collabd/collab"
)

// Op broadcasts are encoded by hand: one per committed edit, on the hot
// path. The bytes are exactly what json.Marshal(collab.OpMessage{…})
// writes (the tests compare them), without its reflection and without
// validating the delta's JSON a second time.

// opFrame encodes the broadcast of a committed edit.
func (s *Session) opFrame(e collab.Edit) []byte {
	delta, err := e.Delta.MarshalJSON()
	if err != nil {
		// Not for an edit that was applied; json.Marshal says what is wrong.
		return mustMarshal(collab.OpMessage{Type: collab.TypeOp, WireEdit: s.wireEdit(e)})
	}
	user := s.userJSON(s.userInfo(context.Background(), e.Author))
	b := make([]byte, 0, len(`{"type":"op","version":,"delta":,"client":,"seq":,"user":}`)+40+len(delta)+len(e.Client)+len(user))
	b = append(b, `{"type":"op","version":`...)
	b = strconv.AppendInt(b, e.Version, 10)
	b = append(b, `,"delta":`...)
	b = appendHTMLEscaped(b, delta)
	b = append(b, `,"client":`...)
	b = appendJSONString(b, string(e.Client))
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"user":`...)
	b = append(b, user...)
	return append(b, '}')
}

// userJSON returns u encoded, cached per user as it appears: a handful of
// users edit a document, and each of their edits names them.
func (s *Session) userJSON(u collab.UserInfo) []byte {
	if b, ok := s.userFrames[u]; ok {
		return b
	}
	b := mustMarshal(u)
	if len(s.userFrames) >= maxUserFrames {
		clear(s.userFrames) // bounded: names may change, and users come and go
	}
	s.userFrames[u] = b
	return b
}

// maxUserFrames bounds the cache of encoded users of one session.
const maxUserFrames = 256

// appendJSONString appends str as encoding/json writes a string: plain
// printable ASCII as it is, anything else through json.Marshal (escapes,
// HTML-safe, invalid UTF-8 replaced).
func appendJSONString(b []byte, str string) []byte {
	for i := 0; i < len(str); i++ {
		if c := str[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return append(b, mustMarshal(str)...)
		}
	}
	b = append(b, '"')
	b = append(b, str...)
	return append(b, '"')
}

// appendHTMLEscaped appends JSON as json.Marshal embeds a Marshaler's
// output: with <, >, & and U+2028, U+2029 escaped.
func appendHTMLEscaped(b, js []byte) []byte {
	if bytes.IndexAny(js, "<>&\u2028\u2029") < 0 {
		return append(b, js...)
	}
	var buf bytes.Buffer
	json.HTMLEscape(&buf, js)
	return append(b, buf.Bytes()...)
}
