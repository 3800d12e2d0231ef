package api

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
)

// The live endpoint reads client frames itself too (RFC 6455, server side:
// frames must be masked, no extensions). An idle connection's reader then
// waits in a plain read with a shallow stack and a small buffer, where
// gorilla's read path kept an 8 KiB stack and a 1 KiB buffer per
// connection.

// Opcodes a client may send besides those the server sends.
const (
	opContinuation = 0x0
	opBinary       = 0x2
)

// readBufferSize holds a typical op or presence message with its header,
// so one system call reads it.
const readBufferSize = 256

// frameError is a violation of the protocol: the connection is closed with
// its code, and nothing more is read from it (the stream may be out of
// step).
type frameError struct {
	code   int
	reason string
}

func (e *frameError) Error() string { return fmt.Sprintf("websocket: %s (close %d)", e.reason, e.code) }

func protocolError(format string, args ...any) error {
	return &frameError{websocket.CloseProtocolError, fmt.Sprintf(format, args...)}
}

// frameReader reads a client's frames: whole messages (reassembled from
// fragments) and control frames. Owned by the connection's reader
// goroutine.
type frameReader struct {
	r     io.Reader
	limit int64 // longest message; longer ones are a frameError with 1009

	buf  [readBufferSize]byte
	b, e int // buf[b:e] is read but not yet used

	msg   []byte // the fragmented message being assembled
	msgOp byte   // its opcode; 0 when none is
}

// fill makes at least n ≤ len(buf) bytes available in buf[b:e].
func (fr *frameReader) fill(n int) error {
	if fr.e-fr.b >= n {
		return nil
	}
	if fr.b+n > len(fr.buf) {
		fr.e = copy(fr.buf[:], fr.buf[fr.b:fr.e])
		fr.b = 0
	}
	for fr.e-fr.b < n {
		m, err := fr.r.Read(fr.buf[fr.e:])
		fr.e += m
		if err != nil && fr.e-fr.b < n {
			if errors.Is(err, io.EOF) && fr.e > fr.b {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// readPayload appends the next n bytes to dst, unmasked. It grows dst as
// the bytes arrive rather than by the length the header claims, so a
// client cannot make the server allocate a whole message's worth by
// sending a header alone.
func (fr *frameReader) readPayload(dst []byte, n int, key [4]byte) ([]byte, error) {
	start := len(dst)
	got := min(n, fr.e-fr.b)
	dst = append(dst, fr.buf[fr.b:fr.b+got]...)
	fr.b += got
	for rest := n - got; rest > 0; {
		chunk := min(rest, 32<<10)
		l := len(dst)
		dst = slices.Grow(dst, chunk)[:l+chunk]
		if _, err := io.ReadFull(fr.r, dst[l:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		rest -= chunk
	}
	p := dst[start:]
	for i := range p {
		p[i] ^= key[i&3]
	}
	return dst, nil
}

// next returns the next message (text or binary, whole) or control frame
// (close, ping, pong). Its payload is the caller's to keep.
func (fr *frameReader) next() (op byte, payload []byte, err error) {
	for {
		if err := fr.fill(2); err != nil {
			return 0, nil, err
		}
		h0, h1 := fr.buf[fr.b], fr.buf[fr.b+1]
		fin, op := h0&0x80 != 0, h0&0x0F
		if h0&0x70 != 0 {
			return 0, nil, protocolError("reserved bits set")
		}
		if h1&0x80 == 0 {
			return 0, nil, protocolError("client frame not masked")
		}
		hlen := 2 + 4
		switch h1 & 0x7F {
		case 126:
			hlen += 2
		case 127:
			hlen += 8
		}
		if err := fr.fill(hlen); err != nil {
			return 0, nil, err
		}
		h := fr.buf[fr.b : fr.b+hlen]
		var n uint64
		switch h1 & 0x7F {
		case 126:
			n = uint64(binary.BigEndian.Uint16(h[2:]))
		case 127:
			n = binary.BigEndian.Uint64(h[2:])
		default:
			n = uint64(h1 & 0x7F)
		}
		key := [4]byte(h[hlen-4:])
		fr.b += hlen

		switch op {
		case opClose, opPing, opPong:
			if !fin || n > 125 {
				return 0, nil, protocolError("control frame fragmented or longer than 125 bytes")
			}
			p, err := fr.readPayload(nil, int(n), key)
			return op, p, err
		case opText, opBinary:
			if fr.msgOp != 0 {
				return 0, nil, protocolError("new message before the previous one ended")
			}
		case opContinuation:
			if fr.msgOp == 0 {
				return 0, nil, protocolError("continuation frame without a message")
			}
		default:
			return 0, nil, protocolError("unknown opcode %d", op)
		}
		if n > uint64(fr.limit) || int64(len(fr.msg))+int64(n) > fr.limit {
			return 0, nil, &frameError{collab.CloseTooBig, ""}
		}
		msg, err := fr.readPayload(fr.msg, int(n), key)
		if err != nil {
			return 0, nil, err
		}
		if op != opContinuation {
			fr.msgOp = op
		}
		if !fin {
			fr.msg = msg
			continue
		}
		op = fr.msgOp
		fr.msg, fr.msgOp = nil, 0
		return op, msg, nil
	}
}

// parseClose reads a close frame's payload: the code to echo (1005 when it
// has none), or a frameError.
func parseClose(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return websocket.CloseNoStatusReceived, nil
	case len(p) == 1:
		return 0, protocolError("close frame of one byte")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, protocolError("bad close code %d", code)
	}
	if !utf8.Valid(p[2:]) {
		return 0, &frameError{collab.CloseInvalidUTF8, "invalid UTF-8 in close frame"}
	}
	return code, nil
}

// validCloseCode reports whether a client may send code (RFC 6455 7.4,
// the IANA registry, and the application range).
func validCloseCode(code int) bool {
	switch code {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}
