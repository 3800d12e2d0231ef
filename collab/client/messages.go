package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// ErrProtocol is wrapped by every error about a server message that breaks
// the protocol: not JSON, a missing or mistyped field, an unknown type, an
// ack of nothing, a version out of order, a delta that does not fit. The
// client drops such a connection and reconnects; it never panics on it.
var ErrProtocol = errors.New("server broke the protocol")

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// serverMessage is one decoded server frame; typ says which field is set.
type serverMessage struct {
	typ      string
	welcome  welcome
	ack      collab.Ack
	edit     edit // op
	presence presence
	leave    collab.ClientID
	err      collab.ErrorMessage
}

// welcome is collab.Welcome with the document decoded as a Doc.
type welcome struct {
	version int64
	doc     *ot.Doc // a snapshot at version, or nil: then ops
	ops     []edit
	you     collab.You
	peers   []presence
}

// edit is collab.WireEdit (an op message or one of welcome's ops).
type edit struct {
	version int64
	delta   ot.Delta
	client  collab.ClientID
	seq     int64
	user    collab.UserInfo
}

// presence is a peer's selection (a presence message or one of welcome's
// peers).
type presence struct {
	client collab.ClientID
	user   collab.UserInfo
	rng    *ot.Range
}

// serverWire mirrors every server message on the wire, with pointers and
// raw fields where absence, null and a wrong type must be told apart.
type serverWire struct {
	Type    *string         `json:"type"`
	Version *int64          `json:"version"`
	Doc     json.RawMessage `json:"doc"`
	Ops     json.RawMessage `json:"ops"`
	You     *youWire        `json:"you"`
	Peers   json.RawMessage `json:"peers"`
	Seq     *int64          `json:"seq"`
	Delta   json.RawMessage `json:"delta"`
	Client  *string         `json:"client"`
	User    *userWire       `json:"user"`
	Range   json.RawMessage `json:"range"`
	Code    *string         `json:"code"`
	Message *string         `json:"message"`
}

type youWire struct {
	Client *string   `json:"client"`
	User   *userWire `json:"user"`
	Role   *string   `json:"role"`
}

type userWire struct {
	ID    *string `json:"id"`
	Name  string  `json:"name"`
	Color string  `json:"color"`
}

type editWire struct {
	Version *int64          `json:"version"`
	Delta   json.RawMessage `json:"delta"`
	Client  *string         `json:"client"`
	Seq     *int64          `json:"seq"`
	User    *userWire       `json:"user"`
}

type peerWire struct {
	Client *string         `json:"client"`
	User   *userWire       `json:"user"`
	Range  json.RawMessage `json:"range"`
}

// parseServerMessage decodes one server frame. Every error wraps
// ErrProtocol. It checks shapes and types only; whether a version or a
// seq makes sense is for the state that receives it.
func parseServerMessage(frame []byte) (serverMessage, error) {
	var w serverWire
	if err := json.Unmarshal(frame, &w); err != nil {
		return serverMessage{}, protocolErrorf("not a JSON object of the protocol: %v", err)
	}
	if w.Type == nil {
		return serverMessage{}, protocolErrorf("message has no type")
	}
	m := serverMessage{typ: *w.Type}
	var err error
	switch m.typ {
	case collab.TypeWelcome:
		m.welcome, err = parseWelcome(&w)
	case collab.TypeAck:
		switch {
		case w.Seq == nil || *w.Seq < 1:
			err = protocolErrorf("ack needs seq, a positive integer")
		case w.Version == nil || *w.Version < 1:
			err = protocolErrorf("ack needs version, a positive integer")
		}
		if err == nil {
			m.ack = collab.Ack{Type: collab.TypeAck, Seq: *w.Seq, Version: *w.Version}
		}
	case collab.TypeOp:
		m.edit, err = parseEdit(editWire{Version: w.Version, Delta: w.Delta, Client: w.Client, Seq: w.Seq, User: w.User})
	case collab.TypePresence:
		if len(w.Range) == 0 {
			err = protocolErrorf("presence needs range (null when not focused)")
			break
		}
		m.presence, err = parsePeer(peerWire{Client: w.Client, User: w.User, Range: w.Range})
	case collab.TypeLeave:
		if w.Client == nil || *w.Client == "" {
			err = protocolErrorf("leave needs a client")
		} else {
			m.leave = collab.ClientID(*w.Client)
		}
	case collab.TypeError:
		switch {
		case w.Code == nil || *w.Code == "":
			err = protocolErrorf("error needs a code")
		case w.Seq != nil && *w.Seq < 0:
			err = protocolErrorf("error seq must not be negative")
		default:
			m.err = collab.ErrorMessage{Type: collab.TypeError, Code: collab.Code(*w.Code)}
			if w.Message != nil {
				m.err.Message = *w.Message
			}
			if w.Seq != nil {
				m.err.Seq = *w.Seq
			}
		}
	default:
		err = protocolErrorf("unknown message type %q", m.typ)
	}
	return m, err
}

func parseWelcome(w *serverWire) (welcome, error) {
	var out welcome
	if w.Version == nil || *w.Version < 0 {
		return out, protocolErrorf("welcome needs version, a non-negative integer")
	}
	out.version = *w.Version
	hasDoc := len(w.Doc) > 0 && !bytes.Equal(w.Doc, []byte("null"))
	hasOps := len(w.Ops) > 0 && !bytes.Equal(w.Ops, []byte("null"))
	switch {
	case hasDoc && hasOps:
		return out, protocolErrorf("welcome carries both doc and ops")
	case !hasDoc && !hasOps:
		return out, protocolErrorf("welcome carries neither doc nor ops")
	case hasDoc:
		d, err := ot.ParseDelta(w.Doc)
		if err != nil {
			return out, protocolErrorf("welcome doc: %v", err)
		}
		doc, err := ot.DocFromDelta(d)
		if err != nil {
			return out, protocolErrorf("welcome doc: %v", err)
		}
		out.doc = &doc
	default:
		var ops []editWire
		if err := json.Unmarshal(w.Ops, &ops); err != nil {
			return out, protocolErrorf("welcome ops: %v", err)
		}
		out.ops = make([]edit, len(ops))
		for i, ew := range ops {
			e, err := parseEdit(ew)
			if err != nil {
				return out, fmt.Errorf("welcome op %d: %w", i, err)
			}
			out.ops[i] = e
		}
	}
	if w.You == nil || w.You.Client == nil || *w.You.Client == "" || w.You.Role == nil {
		return out, protocolErrorf("welcome needs you: {client, user, role}")
	}
	user, err := parseUser(w.You.User)
	if err != nil {
		return out, err
	}
	out.you = collab.You{Client: collab.ClientID(*w.You.Client), User: user, Role: collab.Role(*w.You.Role)}
	if !out.you.Role.Valid() {
		return out, protocolErrorf("welcome: unknown role %q", *w.You.Role)
	}
	if len(w.Peers) > 0 && !bytes.Equal(w.Peers, []byte("null")) {
		var peers []peerWire
		if err := json.Unmarshal(w.Peers, &peers); err != nil {
			return out, protocolErrorf("welcome peers: %v", err)
		}
		out.peers = make([]presence, len(peers))
		for i, pw := range peers {
			p, err := parsePeer(pw)
			if err != nil {
				return out, fmt.Errorf("welcome peer %d: %w", i, err)
			}
			out.peers[i] = p
		}
	}
	return out, nil
}

func parseEdit(w editWire) (edit, error) {
	var e edit
	switch {
	case w.Version == nil || *w.Version < 1:
		return e, protocolErrorf("edit needs version, a positive integer")
	case w.Client == nil || *w.Client == "":
		return e, protocolErrorf("edit needs a client")
	case w.Seq == nil || *w.Seq < 0: // an edit made through REST may have no seq of its own
		return e, protocolErrorf("edit needs seq, a non-negative integer")
	case len(w.Delta) == 0 || bytes.Equal(w.Delta, []byte("null")):
		return e, protocolErrorf("edit needs a delta")
	}
	d, err := ot.ParseDelta(w.Delta)
	if err != nil {
		return e, protocolErrorf("edit %d: %v", *w.Version, err)
	}
	user, err := parseUser(w.User)
	if err != nil {
		return e, err
	}
	return edit{version: *w.Version, delta: d, client: collab.ClientID(*w.Client), seq: *w.Seq, user: user}, nil
}

func parsePeer(w peerWire) (presence, error) {
	if w.Client == nil || *w.Client == "" {
		return presence{}, protocolErrorf("presence needs a client")
	}
	user, err := parseUser(w.User)
	if err != nil {
		return presence{}, err
	}
	r, err := parseRange(w.Range)
	if err != nil {
		return presence{}, err
	}
	return presence{client: collab.ClientID(*w.Client), user: user, rng: r}, nil
}

func parseUser(w *userWire) (collab.UserInfo, error) {
	if w == nil || w.ID == nil {
		return collab.UserInfo{}, protocolErrorf("user needs an id")
	}
	return collab.UserInfo{ID: collab.UserID(*w.ID), Name: w.Name, Color: w.Color}, nil
}

// parseRange decodes {"index":i,"length":n}; absent or null is nil.
func parseRange(raw json.RawMessage) (*ot.Range, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var r struct {
		Index  *int `json:"index"`
		Length *int `json:"length"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Index == nil || r.Length == nil ||
		*r.Index < 0 || *r.Length < 0 || *r.Index > ot.MaxLen || *r.Length > ot.MaxLen {
		return nil, protocolErrorf(`range must be {"index":i,"length":n} with non-negative integers, or null`)
	}
	return &ot.Range{Index: *r.Index, Length: *r.Length}, nil
}

// Client messages. Their fields are always all present, so plain structs
// with encoding/json write them; the delta writes itself (ot.Delta's
// MarshalJSON).

type helloMessage struct {
	Type     string          `json:"type"`
	Client   collab.ClientID `json:"client"`
	Version  *int64          `json:"version"` // null: holds nothing
	Protocol int             `json:"protocol"`
}

type opMessage struct {
	Type    string   `json:"type"`
	Seq     int64    `json:"seq"`
	Version int64    `json:"version"`
	Delta   ot.Delta `json:"delta"`
}

// opOverhead is the most an op message adds to its delta's JSON: seq and
// version at their longest, since a buffered op learns its base version
// only when it is sent.
var opOverhead = len(mustJSON(opMessage{Type: collab.TypeOp, Seq: math.MaxInt64, Version: math.MaxInt64, Delta: ot.Delta{}})) - len("[]")

// checkOpSize refuses an op delta whose message would be over the server's
// limit: the server would close the connection over it (1009), and a
// resend after reconnecting would meet the same fate.
func (c *Client) checkOpSize(d ot.Delta) error {
	limit := c.opts.MaxMessageSize
	if limit < 0 {
		return nil
	}
	b, err := d.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode the op: %w", err)
	}
	if n := len(b) + opOverhead; n > limit {
		return fmt.Errorf("%w: the op would be %d bytes, the limit is %d", ErrOpTooLarge, n, limit)
	}
	return nil
}

type presenceMessage struct {
	Type    string    `json:"type"`
	Range   *ot.Range `json:"range"`
	Version int64     `json:"version"` // the server version Range is in terms of
}
