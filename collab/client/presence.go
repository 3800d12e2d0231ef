package client

import (
	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// presenceFrameLocked encodes the local selection as a presence message.
// The local document holds the edits the server has not acknowledged, so
// the range goes in terms of the newest server version the client has,
// mapped back through those edits; the server moves it forward through
// every edit committed after that version, these ones included, to where
// it is locally. A range in local terms would count them twice.
//
// That round trip loses an end inside or in front of text those edits
// inserted (rangeBefore): lossy is then the seq of the newest op they
// are in, so that the selection goes out again, exact, once that op is
// acknowledged (onAck); 0 when the server will place the range exactly.
func (c *Client) presenceFrameLocked() (frame []byte, lossy int64) {
	r := c.selection
	if r != nil {
		if u := c.st.unacked(); u != nil {
			before := rangeBefore(u, *r)
			if ot.TransformRange(u, before) != *r {
				lossy = c.st.inflight.seq
				if c.st.buffer != nil {
					lossy = c.st.bufferSeq()
				}
			}
			r = &before
		}
	}
	return mustJSON(presenceMessage{Type: collab.TypePresence, Range: r, Version: c.st.version}), lossy
}

// rangeBefore maps a range of the document after d, the client's own edit,
// back to the document d applies to: both ends as positionBefore maps
// them. When d commits, the server moves the result forward through d
// again (ot.TransformRange), which puts every end back where it was,
// except an end inside or in front of text d inserted: that one lands
// after the insert. So a cursor after typed text, after a delete, or a
// selection of text d did not insert comes out exact.
func rangeBefore(d ot.Delta, r ot.Range) ot.Range {
	start := positionBefore(d, r.Index)
	end := positionBefore(d, r.Index+r.Length)
	return ot.Range{Index: start, Length: max(0, end-start)}
}

// positionBefore maps a position of the document after d back to the
// document before d: ot.TransformPosition through d's inverse without
// priority, worked out from d alone (ot.Invert needs the document before
// d, which the client does not keep). A position inside or at either end
// of text d inserted goes to where it was inserted; one at the place of
// text d deleted goes after that text, which the server's transform
// through d then pulls back to the place.
func positionBefore(d ot.Delta, pos int) int {
	offset := 0 // in the same terms as pos: what the walk has passed
	for _, op := range d {
		if offset > pos {
			break
		}
		n := op.Len()
		switch op.Kind() {
		case ot.KindInsert: // the inverse deletes it
			pos -= min(n, pos-offset)
		case ot.KindDelete: // the inverse inserts it back, in front of pos
			pos += n
			offset += n
		default:
			offset += n
		}
	}
	return pos
}
