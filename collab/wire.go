package collab

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/collabd/collabd/ot"
)

// ProtocolVersion is the live protocol version this server speaks (the
// `protocol` field of hello). A change of any message shape bumps it.
const ProtocolVersion = 1

// Message types of the live protocol (docs/protocol.md).
const (
	TypeHello    = "hello"
	TypeOp       = "op"
	TypePresence = "presence"
	TypeWelcome  = "welcome"
	TypeAck      = "ack"
	TypeLeave    = "leave"
	TypeError    = "error"
)

// UserInfo is how a user appears to collaborators: in welcome, op,
// presence, and REST responses.
type UserInfo struct {
	ID    UserID `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// Info returns how u appears to collaborators.
func (u User) Info() UserInfo { return UserInfo{ID: u.ID, Name: u.Name, Color: u.Color} }

// ClientMessage is any message a client sends. Type says which fields
// matter; ParseClientMessage checks that they are there.
type ClientMessage struct {
	Type string

	// hello
	Client ClientID
	// Version is, for hello, the last version the client holds (nil:
	// none); for op, the base version (never nil); for presence, the
	// version Range is in terms of (nil: not said, so the server's
	// committed version when it reads the presence).
	Version  *int64
	Protocol int

	// op
	Seq   int64
	Delta ot.Delta

	// presence
	Range *ot.Range // nil = not focused
}

// clientWire mirrors ClientMessage on the wire, with raw fields where
// absence, null and a wrong type must be told apart.
type clientWire struct {
	Type     *string         `json:"type"`
	Client   *string         `json:"client"`
	Version  json.RawMessage `json:"version"`
	Protocol *int            `json:"protocol"`
	Seq      *int64          `json:"seq"`
	Delta    json.RawMessage `json:"delta"`
	Range    json.RawMessage `json:"range"`
}

// MaxClientIDLen bounds client ids: they are echoed to every peer.
const MaxClientIDLen = 128

// ParseClientMessage decodes one client frame. Errors are *Error with code
// BadMessage (not JSON, unknown type, missing or mistyped field) or
// InvalidOp (the delta is malformed: ot's typed error is wrapped).
func ParseClientMessage(frame []byte) (ClientMessage, error) {
	var w clientWire
	if err := json.Unmarshal(frame, &w); err != nil {
		return ClientMessage{}, Errorf(BadMessage, "message is not a JSON object of the protocol: %v", err)
	}
	if w.Type == nil {
		return ClientMessage{}, Errorf(BadMessage, "message has no type")
	}
	m := ClientMessage{Type: *w.Type}
	switch m.Type {
	case TypeHello:
		if w.Client == nil || *w.Client == "" {
			return m, Errorf(BadMessage, "hello needs a non-empty client id")
		}
		if len(*w.Client) > MaxClientIDLen {
			return m, Errorf(BadMessage, "client id is longer than %d bytes", MaxClientIDLen)
		}
		if !utf8.ValidString(*w.Client) {
			return m, Errorf(BadMessage, "client id is not valid UTF-8")
		}
		m.Client = ClientID(*w.Client)
		if w.Protocol == nil || *w.Protocol != ProtocolVersion {
			return m, Errorf(BadMessage, "hello must say protocol %d", ProtocolVersion)
		}
		m.Protocol = *w.Protocol
		v, err := parseVersion(w.Version, true)
		if err != nil {
			return m, err
		}
		m.Version = v
	case TypeOp:
		if w.Seq == nil || *w.Seq < 1 {
			return m, Errorf(BadMessage, "op needs seq, a positive integer")
		}
		m.Seq = *w.Seq
		v, err := parseVersion(w.Version, false)
		if err != nil {
			return m, err
		}
		m.Version = v
		if len(w.Delta) == 0 || bytes.Equal(w.Delta, []byte("null")) {
			return m, Errorf(BadMessage, "op needs a delta")
		}
		d, err := ot.ParseDelta(w.Delta)
		if err != nil {
			return m, &Error{Code: InvalidOp, Message: err.Error(), Err: err}
		}
		m.Delta = d
	case TypePresence:
		if len(w.Range) == 0 {
			return m, Errorf(BadMessage, "presence needs range (null when not focused)")
		}
		if !bytes.Equal(w.Range, []byte("null")) {
			var r struct {
				Index  *int `json:"index"`
				Length *int `json:"length"`
			}
			if err := json.Unmarshal(w.Range, &r); err != nil || r.Index == nil || r.Length == nil || *r.Index < 0 || *r.Length < 0 {
				return m, Errorf(BadMessage, "range must be {\"index\":i,\"length\":n} with non-negative integers, or null")
			}
			m.Range = &ot.Range{Index: *r.Index, Length: *r.Length}
		}
		// Optional: clients from before it send none.
		v, err := parseVersion(w.Version, true)
		if err != nil {
			return m, err
		}
		m.Version = v
	default:
		return m, Errorf(BadMessage, "unknown message type %q", m.Type)
	}
	return m, nil
}

func parseVersion(raw json.RawMessage, nullable bool) (*int64, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if nullable {
			return nil, nil
		}
		return nil, Errorf(BadMessage, "version is required")
	}
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil || v < 0 {
		return nil, Errorf(BadMessage, "version must be a non-negative integer")
	}
	return &v, nil
}

// WireEdit is an edit as the live protocol and the REST history show it.
type WireEdit struct {
	Version int64    `json:"version"`
	Delta   ot.Delta `json:"delta"`
	Client  ClientID `json:"client"`
	Seq     int64    `json:"seq"`
	User    UserInfo `json:"user"`
}

// You tells a joining client who it is to the server.
type You struct {
	Client ClientID `json:"client"`
	User   UserInfo `json:"user"`
	Role   Role     `json:"role"`
}

// PeerInfo is another connected client as welcome lists it.
type PeerInfo struct {
	Client ClientID  `json:"client"`
	User   UserInfo  `json:"user"`
	Range  *ot.Range `json:"range"`
}

// Welcome answers hello: Doc (a full snapshot at Version) or Ops (the edits
// after the client's version, maybe none), never both.
type Welcome struct {
	Type    string     `json:"type"` // "welcome"
	Version int64      `json:"version"`
	Doc     *ot.Doc    `json:"doc,omitempty"`
	Ops     []WireEdit `json:"ops,omitempty"`
	You     You        `json:"you"`
	Peers   []PeerInfo `json:"peers"`
}

// MarshalJSON writes "ops" even when empty (a client that is up to date
// gets "ops":[]), and "peers" as [] rather than null.
func (w Welcome) MarshalJSON() ([]byte, error) {
	type common struct {
		Type    string     `json:"type"`
		Version int64      `json:"version"`
		You     You        `json:"you"`
		Peers   []PeerInfo `json:"peers"`
	}
	c := common{Type: TypeWelcome, Version: w.Version, You: w.You, Peers: w.Peers}
	if c.Peers == nil {
		c.Peers = []PeerInfo{}
	}
	if w.Doc != nil {
		return json.Marshal(struct {
			common
			Doc *ot.Doc `json:"doc"`
		}{c, w.Doc})
	}
	ops := w.Ops
	if ops == nil {
		ops = []WireEdit{}
	}
	return json.Marshal(struct {
		common
		Ops []WireEdit `json:"ops"`
	}{c, ops})
}

// Ack says the op with Seq is durably stored as edit Version.
type Ack struct {
	Type    string `json:"type"` // "ack"
	Seq     int64  `json:"seq"`
	Version int64  `json:"version"`
}

// OpMessage carries another client's edit in server order.
type OpMessage struct {
	Type string `json:"type"` // "op"
	WireEdit
}

// PresenceMessage is a peer's selection in the receiver's version terms.
type PresenceMessage struct {
	Type   string    `json:"type"` // "presence"
	Client ClientID  `json:"client"`
	User   UserInfo  `json:"user"`
	Range  *ot.Range `json:"range"`
}

// LeaveMessage says a peer disconnected.
type LeaveMessage struct {
	Type   string   `json:"type"` // "leave"
	Client ClientID `json:"client"`
}

// ErrorMessage refuses a request; the document is unchanged by it.
type ErrorMessage struct {
	Type    string `json:"type"` // "error"
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Seq     int64  `json:"seq,omitempty"`
}

// NewErrorMessage turns err into the error message a client sees; an error
// without a code becomes "internal error" (details belong in the log).
func NewErrorMessage(err error, seq int64) ErrorMessage {
	return ErrorMessage{Type: TypeError, Code: ErrorCode(err), Message: UserMessage(err), Seq: seq}
}

// WebSocket close codes the live protocol uses (docs/protocol.md).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001 // server shutting down: reconnect (elsewhere)
	CloseUnsupported   = 1003 // a binary frame
	CloseInvalidUTF8   = 1007
	ClosePolicy        = 1008 // message before hello, auth expired, flood, replaced by a newer connection
	CloseTooBig        = 1009
	CloseInternal      = 1011
	CloseTryAgainLater = 1013 // overloaded, or too slow to keep up
	CloseAccessRevoked = 4403
	CloseDocumentGone  = 4404
)
