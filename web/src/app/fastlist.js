// Parchment (Quill's document model) keeps a block's children in a linked
// list whose insertBefore first calls remove(node), which walks the whole
// list (contains) to find a node that is new and in no list. Opening a
// document of many lines was therefore quadratic: 16k lines took seconds
// in quill.setContents. A node with no neighbours is in a list exactly when
// it is that list's head, so the walk is skipped for it; any other node
// takes the original path, so behaviour is unchanged.
export function speedUpParchment(quill) {
  const proto = Object.getPrototypeOf(quill.scroll.children);
  if (!proto || proto.collabdFastContains || typeof proto.contains !== 'function') return;
  const contains = proto.contains;
  proto.contains = function fastContains(node) {
    if (node != null && node.prev == null && node.next == null) return this.head === node;
    return contains.call(this, node);
  };
  proto.collabdFastContains = true;
}

// Opening a document is quill.setContents: it empties the editor, then
// Scroll.insertContents builds the lines one op at a time (createBlock,
// insertAt, …: ~180 ms for 16k lines) and then re-reads every DOM
// mutation it made to optimize the blots it touched (~90 ms). For the common
// case (plain text, no formats or embeds, into an empty editor) this
// builds the same blots directly: a <p> Block per line holding one Text
// blot, or Quill's Break when the line is empty, which is what the general
// path ends with after its optimize pass. The mutation records of this
// already-optimal structure are then dropped, not re-examined. Anything
// else takes Quill's own path.
export function speedUpPlainLoad(quill) {
  const scroll = quill.scroll;
  if (scroll.collabdPlainLoad || typeof scroll.insertContents !== 'function') return;
  const insertContents = scroll.insertContents;
  scroll.insertContents = function plainInsertContents(index, delta) {
    // Not inside a batch: its optimize would be deferred, and the records
    // dropped below would then not all be ours.
    const text = index === 0 && !this.batch && emptyEditor(this) ? plainText(delta) : null;
    if (text == null) return insertContents.call(this, index, delta);
    // Pending DOM changes (none, after setContents' deleteText) are handled
    // the usual way before ours are built.
    this.optimize();
    const ref = this.children.head; // the empty line; setContents removes it after
    const lines = text.split('\n');
    lines.pop(); // text ends with '\n'
    for (const line of lines) {
      const block = this.create('block');
      block.appendChild(this.create(line.length > 0 ? 'text' : 'break', line.length > 0 ? line : undefined));
      this.insertBefore(block, ref);
    }
    // Every record is of this build, whose blots are already optimal.
    this.observer.takeRecords();
    this.optimize();
  };
  scroll.collabdPlainLoad = true;
}

// emptyEditor: the scroll is one empty, unformatted paragraph.
function emptyEditor(scroll) {
  const head = scroll.children.head;
  return scroll.children.length === 1 && head.statics.blotName === 'block' && head.length() === 1
    && head.children.length <= 1 && (head.children.length === 0 || head.children.head.statics.blotName === 'break')
    && Object.keys(head.formats()).length === 0;
}

// plainText: the delta's text when it is only unformatted text inserts
// ending with a newline, else null.
function plainText(delta) {
  const ops = delta.ops;
  if (ops.length === 0) return null;
  let text = '';
  for (const op of ops) {
    if (typeof op.insert !== 'string' || op.attributes != null || op.retain != null || op.delete != null) return null;
    text += op.insert;
  }
  return text.endsWith('\n') ? text : null;
}
