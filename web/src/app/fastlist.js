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
