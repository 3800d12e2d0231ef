// The client's side of one document: ot.js's three-state client
// (synchronized, awaiting ack, awaiting ack with buffer), the same as the
// Go client's collab/client/state.go. No I/O, no timers, no events: the
// CollabClient drives it from the single JS thread.
//
// Invariant: doc = serverDoc · inflight.delta · buffer. inflight.delta
// applies to serverDoc (the server document at version), buffer to
// serverDoc · inflight.delta.

import Delta, { Op } from 'quill-delta';

/** Total length an edit reads from the document it applies to (retains + deletes). */
export function baseLength(delta) {
  let n = 0;
  for (const op of delta.ops) {
    if (typeof op.retain === 'number') n += op.retain;
    else if (op.retain != null) n += 1; // embed retain (quill-delta 5)
    else if (typeof op.delete === 'number') n += op.delete;
  }
  return n;
}

/** Whether doc (a document delta) ends with "\n", as every document must. */
export function endsWithNewline(doc) {
  const last = doc.ops[doc.ops.length - 1];
  return !!last && typeof last.insert === 'string' && last.insert.endsWith('\n');
}

/** Moves a range through an edit as the server does (transformPosition without priority on both ends). */
export function transformRange(delta, range) {
  if (!range) return null;
  const start = delta.transformPosition(range.index, false);
  const end = delta.transformPosition(range.index + range.length, false);
  return { index: start, length: Math.max(0, end - start) };
}

/**
 * Maps a position of the document after delta, the client's own edit,
 * back to the document before it: transformPosition through delta's
 * inverse without priority, worked out from delta alone (the same as the
 * Go client's positionBefore). A position inside or at either end of text
 * delta inserted goes to where it was inserted; one at the place of text
 * delta deleted goes after that text, which the server's transform
 * through delta then pulls back to the place.
 */
export function positionBefore(delta, pos) {
  let offset = 0; // in the same terms as pos: what the walk has passed
  for (const op of delta.ops) {
    if (offset > pos) break;
    const n = Op.length(op);
    if (op.insert != null) {
      pos -= Math.min(n, pos - offset); // the inverse deletes it
    } else if (typeof op.delete === 'number') {
      pos += n; // the inverse inserts it back, in front of pos
      offset += n;
    } else {
      offset += n;
    }
  }
  return pos;
}

/**
 * Maps a range of the document after delta (the client's own edits not
 * yet acknowledged) back to the document delta applies to. When delta
 * commits, the server moves the result forward through it again, which
 * puts every end back where it was, except an end inside or in front of
 * text delta inserted: that one lands after the insert. So a cursor after
 * typed text, after a delete, or a selection of other text comes out exact.
 */
export function rangeBefore(delta, range) {
  if (!range) return null;
  const start = positionBefore(delta, range.index);
  const end = positionBefore(delta, range.index + range.length);
  return { index: start, length: Math.max(0, end - start) };
}

/** Keeps a range inside a document of length n. */
export function clampRange(range, n) {
  if (!range) return null;
  const index = Math.max(0, Math.min(range.index, n));
  return { index, length: Math.max(0, Math.min(range.length, n - index)) };
}

export class DocState {
  constructor() {
    this.serverDoc = new Delta([{ insert: '\n' }]);
    this.doc = this.serverDoc;
    this.version = 0;
    this.inflight = null; // { seq, base, orig, delta } or null (synchronized)
    this.buffer = null; // Delta composed of the edits made after inflight, or null
    this.lastSeq = 0; // seq of the newest op created; never reused
  }

  get status() {
    if (!this.inflight) return 'synchronized';
    return this.buffer ? 'awaiting ack with buffer' : 'awaiting ack';
  }

  /**
   * Applies a local edit made on doc. Returns true when it became the
   * in-flight op (the caller sends it), false when it joined the buffer.
   * Throws (and changes nothing) if the edit does not fit doc.
   */
  local(delta) {
    const len = this.doc.length();
    if (baseLength(delta) > len) {
      throw new Error(`edit reads ${baseLength(delta)} characters but the document has ${len}`);
    }
    const doc = this.doc.compose(delta);
    if (!endsWithNewline(doc)) throw new Error('edit leaves the document not ending in "\\n"');
    this.doc = doc;
    if (!this.inflight) {
      this.inflight = this._newPending(delta);
      return true;
    }
    this.buffer = this.buffer ? this.buffer.compose(delta) : delta;
    return false;
  }

  _newPending(delta) {
    this.lastSeq++;
    return { seq: this.lastSeq, base: this.version, orig: delta, delta };
  }

  /**
   * Applies the server's edit r (version+1, based on version) and returns
   * it as it changes doc. The server's edit came first, so it wins ties:
   *   I' = r.transform(I, true)    r1 = I.transform(r, false)
   *   B' = r1.transform(B, true)   r2 = B.transform(r1, false)
   * Throws (and changes nothing) if r does not fit the server document.
   */
  remote(r) {
    const slen = this.serverDoc.length();
    if (baseLength(r) > slen) {
      throw new Error(`remote edit ${this.version + 1} reads ${baseLength(r)} characters but the document has ${slen}`);
    }
    let applied = r;
    let inflight = null;
    let buffer = null;
    if (this.inflight) {
      inflight = { ...this.inflight, delta: r.transform(this.inflight.delta, true) };
      applied = this.inflight.delta.transform(applied, false);
    }
    if (this.buffer) {
      buffer = applied.transform(this.buffer, true);
      applied = this.buffer.transform(applied, false);
    }
    this.serverDoc = this.serverDoc.compose(r);
    this.doc = this.doc.compose(applied);
    this.version++;
    this.inflight = inflight;
    this.buffer = buffer;
    return applied;
  }

  /** The in-flight op was committed as version (= version+1). Returns true when the buffer became the next in-flight op. */
  ack(version) {
    this.serverDoc = this.serverDoc.compose(this.inflight.delta);
    this.version = version;
    this.inflight = null;
    if (!this.buffer) return false;
    this.inflight = this._newPending(this.buffer);
    this.buffer = null;
    return true;
  }

  /** The local edits the server has not acknowledged, as one delta on serverDoc, or null. */
  unacked() {
    if (!this.inflight) return null;
    return this.buffer ? this.inflight.delta.compose(this.buffer) : this.inflight.delta;
  }

  /** Forgets the in-flight op and the buffer; returns the delta that reverts doc to serverDoc (or null). */
  drop() {
    const u = this.unacked();
    this.inflight = null;
    this.buffer = null;
    if (!u) return null;
    const revert = u.invert(this.serverDoc);
    this.doc = this.serverDoc;
    return revert;
  }

  /** Replaces everything with a snapshot (pending edits must have been dealt with). lastSeq is kept. */
  reset(doc, version) {
    this.serverDoc = doc;
    this.doc = doc;
    this.version = version;
    this.inflight = null;
    this.buffer = null;
  }
}
