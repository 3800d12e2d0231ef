// Package client is a Go client of collabd's live protocol (docs/protocol.md,
// "How the shipped clients behave"), for apps, tests and load generators. It keeps the
// same three states as the browser editor and ot.js's client: synchronized,
// awaiting ack (one op in flight), awaiting ack with buffer (later local
// edits composed into one).
//
//	c, err := client.Dial(ctx, client.Options{URL: "ws://host/v1/documents/ID/live", Header: h,
//		OnAck: func(seq, version int64) { … }, OnStatus: func(s client.Status) { … }})
//	seq, err := c.SubmitSeq(ot.Delta{ot.Retain(5, nil), ot.InsertText("x", nil)})
//	err = c.WaitSynced(ctx)
//	c.Close()
//
// Dial returns once the first welcome is handled. A handshake refused with
// 429 is dialled again after the server's Retry-After (or the backoff), as
// long as that ends before ctx's deadline; 401, 403 and 404 come back at
// once as a *HandshakeError that errors.Is ErrUnauthorized, ErrForbidden
// or ErrNotFound. SubmitSeq returns the seq of the op that carries the
// edit; OnAck reports it once with its version when the server has stored
// it. Callbacks (OnRemote, OnPresence, OnError, OnAck, OnStatus, OnRetry)
// run one at a time, in the order of the events, on a goroutine of their
// own; the reader waits for each message's callbacks, Submit never does.
//
// An edit is applied locally at once and sent when nothing is in flight.
// A remote edit transforms the in-flight op, the buffer and the local
// selection (the client's diamond is drawn at state.remote; the transform's
// own at ot.Transform). After a lost connection the client redials with
// exponential backoff and full jitter, says hello with its last version,
// takes its own op among the welcome's ops as the ack, or else resends it
// with the same seq and base version (protocol: exactly once); edits made
// offline go out after the welcome. A client too far behind gets the whole
// document in its welcome instead of ops; if it has edits pending, it
// reads the edits it missed from the REST history (GET …/ops, derived from
// the live URL, with the same Header; paged, within CatchUpTimeout) and
// treats them as the welcome's ops, so its edits survive. Only if that
// fails (REST refuses, the history ends early, it times out) does it take
// the document and report its edits lost (ErrEditsDropped). An op refused
// for good (invalid_op, forbidden, …) is dropped with the buffer built on
// it and reported to OnError, and the client resyncs by redialling with
// version null. Submit refuses an edit whose op would exceed the server's
// message limit (MaxMessageSize, 1 MiB by default) with ErrOpTooLarge.
// Close codes 1008, 1009 (a message too big: resent, it would be refused
// forever), 4403 and 4404 end the client (Done, Err); other codes and
// network errors make it redial.
//
// Files: client.go (the API and its one mutex), notify.go (the callback
// goroutine), state.go (the three states, no I/O), conn.go (dialing and its retries,
// the reader and the writer of a connection), handle.go (what each server message does),
// catchup.go (the REST catch-up after a snapshot welcome), messages.go
// (strict decoding: a misbehaving server gets its connection dropped,
// never a panic). The package is past 1,500 lines because of that
// decoding and the connection's life (backoff, pings, closing handshake),
// which every user of the protocol would otherwise write again.
//
// It imports collab (the wire vocabulary), ot and gorilla/websocket, and
// nothing of the server; tests run it against a fake server in
// fakeserver_test.go (api/goclient_limits_test.go runs it against the real
// one).
package client
