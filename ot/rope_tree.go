package ot

import (
	"strings"
	"unicode/utf8"
)

// This file holds the persistent B-tree behind Doc: nodes, leaves of runs,
// the three structural operations (split, concat, build), and paths
// (find a leaf, copy the path above it to replace it). Nodes are immutable
// once they are reachable from a Doc; every operation builds new nodes
// along the path it changes and shares the rest.
//
// Invariants (checked by ropeCheck in rope_test.go):
//   - every leaf is at the same depth; height 0 is a leaf;
//   - a non-root internal node has ropeMinKids..ropeMaxKids children, the
//     root at least 2 (a root with one child is replaced by the child);
//   - a leaf weighs at most ropeMaxWeight, and a non-root leaf at least
//     ropeMinWeight; the root leaf may be lighter but never empty;
//   - n16, nbytes of every node are the sums over its runs/children;
//     astral is true if some text below holds a rune outside the BMP
//     (it may also be true when none is left: it only enables checks);
//   - leaf text never splits a rune, so it never splits a surrogate pair;
//   - adjacent runs of a leaf in the tree are never mergeable (same
//     attributes and both text): they would have been one run. Only a hot
//     leaf, held beside the tree (rope_hot.go), may hold such pairs, and
//     they are merged when it is written into the tree.

const (
	// A leaf weighs the bytes of its text plus ropeRunCost per run, so a
	// leaf of many small formatted runs splits as a plain one does. 512
	// keeps small the text copied when a hot leaf is written into the tree
	// while keeping the tree shallow: a 1 MiB document has ~2,700 leaves
	// and three internal levels.
	ropeMaxWeight  = 512
	ropeMinWeight  = ropeMaxWeight / 4
	ropeFillWeight = ropeMaxWeight * 3 / 4 // leaves built from scratch leave room to type
	ropeRunCost    = 16

	// Fanout. A path copy allocates one internal node per level (288
	// bytes with 16 kids and their lengths); wider nodes cost more bytes
	// per copy, narrower ones more levels. 512 and 16 measured best for
	// the traces and the insert benchmarks among 256..1024 and 16..32.
	ropeMaxKids = 16
	ropeMinKids = ropeMaxKids / 2

	// ropePath keeps a path on the stack; no tree this package can
	// hold in memory is deeper (16^24 leaves), but a deeper one would just
	// take the general path.
	ropeMaxDepth = 24
)

// ropeRun is a piece of a leaf: text with one set of attributes, or one
// embed.
type ropeRun struct {
	text   string     // valid UTF-8; "" iff embed != nil
	embed  *Embed     // shared, never modified
	attrs  Attributes // nil or non-empty, no nil values; shared, never modified
	n16    int        // UTF-16 units: 1 for an embed
	astral bool       // text may hold a rune outside the BMP
}

// ascii reports whether the run is ASCII text, where UTF-16 offsets are byte
// offsets (a non-ASCII rune takes more bytes than units, an embed 0 bytes
// for 1 unit).
func (r *ropeRun) ascii() bool { return len(r.text) == r.n16 }

func (r *ropeRun) weight() int { return len(r.text) + ropeRunCost }

// mergeable reports whether r and s may be one run: both text, same
// attributes.
func (r *ropeRun) mergeable(s *ropeRun) bool {
	return r.embed == nil && s.embed == nil && ropeAttrsEqual(r.attrs, s.attrs)
}

// cut returns the units [from, to) of a text run, given the byte offsets of
// both ends. Pieces keep the astral flag of the whole (it is only a hint).
func (r *ropeRun) cut(from16, to16, fromB, toB int) ropeRun {
	return ropeRun{text: r.text[fromB:toB], attrs: r.attrs, n16: to16 - from16, astral: r.astral}
}

// ropeNode is a leaf (height 0, runs) or an internal node (kids).
type ropeNode struct {
	n16    int // UTF-16 units below
	nbytes int // UTF-8 bytes of text below (embeds count 0)
	height int8
	astral bool
	kids   []*ropeNode // internal: cap == len, never appended to
	lens   []int32     // internal: lens[i] == kids[i].n16, so seeking reads no kid
	runs   []ropeRun   // leaf: cap == len, never appended to
}

// Internal nodes are allocated together with their kids array: one
// allocation per node copied.
type ropeInnerAlloc struct {
	n    ropeNode
	kids [ropeMaxKids]*ropeNode
	lens [ropeMaxKids]int32 // MaxLen fits
}

func (n *ropeNode) weight() int { return n.nbytes + ropeRunCost*len(n.runs) }

// ok reports whether n may be a non-root node.
func (n *ropeNode) ok() bool {
	if n.height == 0 {
		return n.weight() >= ropeMinWeight
	}
	return len(n.kids) >= ropeMinKids
}

// ropeNewLeaf returns a leaf holding a copy of runs (at least one). Leaves
// of up to 8 runs are one allocation with their runs, sized to fit.
func ropeNewLeaf(runs []ropeRun) *ropeNode {
	var n *ropeNode
	switch k := len(runs); {
	case k == 1:
		a := new(struct {
			n ropeNode
			r [1]ropeRun
		})
		n = &a.n
		n.runs = a.r[:]
	case k == 2:
		a := new(struct {
			n ropeNode
			r [2]ropeRun
		})
		n = &a.n
		n.runs = a.r[:]
	case k <= 4:
		a := new(struct {
			n ropeNode
			r [4]ropeRun
		})
		n = &a.n
		n.runs = a.r[:k:k]
	case k <= 8:
		a := new(struct {
			n ropeNode
			r [8]ropeRun
		})
		n = &a.n
		n.runs = a.r[:k:k]
	default:
		n = new(ropeNode)
		n.runs = make([]ropeRun, k)
	}
	copy(n.runs, runs)
	for i := range runs {
		r := &runs[i]
		n.n16 += r.n16
		n.nbytes += len(r.text)
		n.astral = n.astral || r.astral
	}
	return n
}

// ropeNewInner returns an internal node over a copy of kids (1..ropeMaxKids,
// all of one height).
func ropeNewInner(kids ...*ropeNode) *ropeNode {
	a := new(ropeInnerAlloc)
	n := &a.n
	n.kids = a.kids[:len(kids):len(kids)]
	n.lens = a.lens[:len(kids):len(kids)]
	copy(n.kids, kids)
	n.height = kids[0].height + 1
	for i, k := range kids {
		n.lens[i] = int32(k.n16)
		n.n16 += k.n16
		n.nbytes += k.nbytes
		n.astral = n.astral || k.astral
	}
	return n
}

// ropeNodeOf returns a tree over kids (0..ropeMaxKids of one height): nil,
// the only kid, or a possibly underfull node that is valid as a root.
func ropeNodeOf(kids []*ropeNode) *ropeNode {
	switch len(kids) {
	case 0:
		return nil
	case 1:
		return kids[0]
	}
	return ropeNewInner(kids...)
}

// ---- offsets ----

// ropeUnitsToBytes returns the byte offset in s (valid UTF-8) of UTF-16
// offset o (0 <= o <= units of s). ok is false if o falls between the two
// halves of a surrogate pair; b is then the start of that rune.
func ropeUnitsToBytes(s string, o int) (b int, ok bool) {
	u := 0
	for b < len(s) && u < o {
		c := s[b]
		switch {
		case c < 0x80:
			b, u = b+1, u+1
		case c < 0xE0:
			b, u = b+2, u+1
		case c < 0xF0:
			b, u = b+3, u+1
		default:
			b, u = b+4, u+2
		}
	}
	if u > o {
		return b - 4, false
	}
	return min(b, len(s)), true
}

// ropeScanText measures s: UTF-16 units, whether it has a rune outside the
// BMP, and whether it is valid UTF-8 (Go's decoder also rejects encoded
// surrogates, so valid text holds no lone surrogate).
func ropeScanText(s string) (n16 int, astral, valid bool) {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n16++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, false, false
		}
		if r >= 0x10000 {
			n16 += 2
			astral = true
		} else {
			n16++
		}
		i += size
	}
	return n16, astral, true
}

// locate finds UTF-16 offset o (0 <= o <= n16) in a leaf: see ropeLocate.
func (n *ropeNode) locate(o int) (i, u, b int, ok bool) { return ropeLocate(n.runs, o) }

// ropeLocate finds UTF-16 offset o (0 <= o <= units of runs) in runs: o is
// u units into run i, at byte b of its text, with 0 <= u < runs[i].n16, or
// i == len(runs) at the very end. Inside a surrogate pair ok is false and
// u, b are those of the pair's start.
func ropeLocate(runs []ropeRun, o int) (i, u, b int, ok bool) {
	for i := range runs {
		r := &runs[i]
		if o < r.n16 {
			if o == 0 {
				return i, 0, 0, true
			}
			if r.ascii() {
				return i, o, o, true
			}
			b, ok := ropeUnitsToBytes(r.text, o)
			if !ok {
				return i, o - 1, b, false // the pair's start
			}
			return i, o, b, true
		}
		o -= r.n16
	}
	return len(runs), 0, 0, true
}

// splitsPair reports whether UTF-16 offset pos of the tree falls inside a
// surrogate pair.
func (n *ropeNode) splitsPair(pos int) bool {
	if n == nil || !n.astral || pos <= 0 || pos >= n.n16 {
		return false
	}
	for n.height > 0 {
		for i, l := range n.lens {
			if pos < int(l) {
				n = n.kids[i]
				break
			}
			pos -= int(l)
		}
	}
	_, _, _, ok := n.locate(pos)
	return !ok
}

// lastIsNewline reports whether the tree's last unit is a text "\n".
func (n *ropeNode) lastIsNewline() bool {
	if n == nil {
		return false
	}
	for n.height > 0 {
		n = n.kids[len(n.kids)-1]
	}
	r := &n.runs[len(n.runs)-1]
	return strings.HasSuffix(r.text, "\n")
}

// ---- runs ----

// ropeCoalesce appends pieces to dst, merging each stretch of mergeable
// pieces into one run with a single allocation for its text. With fresh,
// every text is a new string, even one that needs no merging.
func ropeCoalesce(dst, pieces []ropeRun, fresh bool) []ropeRun {
	for k := 0; k < len(pieces); {
		p := pieces[k]
		m := k + 1
		for m < len(pieces) && p.mergeable(&pieces[m]) {
			m++
		}
		if m-k > 1 {
			g := pieces[k:m]
			switch len(g) {
			case 2:
				p.text = g[0].text + g[1].text
			case 3:
				p.text = g[0].text + g[1].text + g[2].text
			default:
				var sb strings.Builder
				for i := range g {
					sb.WriteString(g[i].text)
				}
				p.text = sb.String()
			}
			for i := 1; i < len(g); i++ {
				p.n16 += g[i].n16
				p.astral = p.astral || g[i].astral
			}
		} else if fresh && p.embed == nil {
			p.text = strings.Clone(p.text)
		}
		dst = append(dst, p)
		k = m
	}
	return dst
}

func ropeRunsWeight(runs []ropeRun) int {
	w := 0
	for i := range runs {
		w += runs[i].weight()
	}
	return w
}

// ropeSplitRuns splits runs where their weight reaches about target,
// inside a text run if need be (at a rune boundary), so both sides are
// within a run's cost plus 3 bytes of target. Both sides are non-empty if
// there are at least two units.
func ropeSplitRuns(runs []ropeRun, target int) (left, right []ropeRun) {
	w := 0
	for i := range runs {
		r := &runs[i]
		rw := r.weight()
		if w+rw <= target {
			w += rw
			continue
		}
		// The target falls in run i: cut its text so the left side gets
		// about target-w weight.
		if r.embed == nil {
			b := target - w - ropeRunCost
			for b > 0 && b < len(r.text) && !utf8.RuneStart(r.text[b]) {
				b--
			}
			if b > 0 && b < len(r.text) {
				u := b
				if !r.ascii() {
					u = UTF16Len(r.text[:b])
				}
				left = append(left, runs[:i]...)
				left = append(left, r.cut(0, u, 0, b))
				right = append(right, r.cut(u, r.n16, b, len(r.text)))
				right = append(right, runs[i+1:]...)
				return left, right
			}
		}
		if i == 0 {
			i = 1 // keep the left side non-empty
		}
		return runs[:i:i], runs[i:]
	}
	return runs[: len(runs)-1 : len(runs)-1], runs[len(runs)-1:]
}

// ---- building ----

// ropeBuild returns a tree holding runs, which must be coalesced (no two
// adjacent mergeable); nil for none. Long text runs are cut into leaves
// filled to ropeFillWeight; the pieces share the input's strings.
func ropeBuild(runs []ropeRun) *ropeNode {
	if len(runs) == 0 {
		return nil
	}
	if ropeRunsWeight(runs) <= ropeMaxWeight {
		return ropeNewLeaf(runs)
	}
	var leaves []*ropeNode
	var cur []ropeRun
	w := 0
	flush := func() {
		if len(cur) > 0 {
			leaves = append(leaves, ropeNewLeaf(cur))
			cur, w = cur[:0], 0
		}
	}
	for i := range runs {
		r := runs[i]
		for {
			room := ropeFillWeight - w - ropeRunCost
			if r.weight() <= ropeFillWeight-w {
				cur = append(cur, r)
				w += r.weight()
				break
			}
			if r.embed != nil || room < 16 {
				flush()
				continue
			}
			// Cut the text at a rune boundary near room bytes.
			b := room
			for b > 0 && !utf8.RuneStart(r.text[b]) {
				b--
			}
			u := b
			if !r.ascii() {
				u = UTF16Len(r.text[:b])
			}
			cur = append(cur, r.cut(0, u, 0, b))
			flush()
			r = r.cut(u, r.n16, b, len(r.text))
		}
	}
	flush()
	// The last leaf may be light; share with its neighbour.
	if n := len(leaves); n >= 2 && !leaves[n-1].ok() {
		m := ropeMergeLeaves(leaves[n-2], leaves[n-1])
		leaves = leaves[:n-2]
		if m.height == 0 {
			leaves = append(leaves, m)
		} else {
			leaves = append(leaves, m.kids...)
		}
	}
	return ropeBuildLevels(leaves)
}

// ropeBuildLevels stacks internal levels over nodes (all ok, one height),
// spreading each level's nodes evenly so every group has at least
// ropeMinKids.
func ropeBuildLevels(nodes []*ropeNode) *ropeNode {
	for len(nodes) > 1 {
		g := (len(nodes) + ropeMaxKids - 1) / ropeMaxKids
		next := make([]*ropeNode, 0, g)
		for i := range g {
			next = append(next, ropeNewInner(nodes[i*len(nodes)/g:(i+1)*len(nodes)/g]...))
		}
		nodes = next
	}
	return nodes[0]
}

// ---- concat and split (the general path) ----

// ropeMergeLeaves joins two leaves, one of them underfull: one leaf if the
// runs fit in ropeFillWeight, else two balanced leaves under a new node.
// Filling only to ropeFillWeight leaves room to type: were a leaf left
// nearly full, every keystroke into it would take the general path again.
// With one side under ropeMinWeight the halves stay under ropeMaxWeight,
// and over ropeFillWeight/2 - ropeRunCost - 3 >= ropeMinWeight.
func ropeMergeLeaves(a, b *ropeNode) *ropeNode {
	runs := make([]ropeRun, 0, len(a.runs)+len(b.runs))
	runs = append(runs, a.runs...)
	runs = ropeCoalesce(runs[:len(runs)-1], []ropeRun{runs[len(runs)-1], b.runs[0]}, false)
	runs = append(runs, b.runs[1:]...)
	w := ropeRunsWeight(runs)
	if w <= ropeFillWeight {
		return ropeNewLeaf(runs)
	}
	l, r := ropeSplitRuns(runs, w/2)
	return ropeNewInner(ropeNewLeaf(l), ropeNewLeaf(r))
}

// ropeMergeKids returns a node over k1 then k2 (all ok, one height): one
// node if they fit, else two under a new node.
func ropeMergeKids(k1, k2 []*ropeNode) *ropeNode {
	var buf [2 * ropeMaxKids]*ropeNode
	all := append(append(buf[:0], k1...), k2...)
	if len(all) <= ropeMaxKids {
		return ropeNewInner(all...)
	}
	split := min(ropeMaxKids, len(all)-ropeMinKids)
	return ropeNewInner(ropeNewInner(all[:split]...), ropeNewInner(all[split:]...))
}

// ropeConcat joins two valid trees (nil is empty) into a valid tree in
// O(|height difference| + 1) new nodes. Only the roots of a and b may be
// underfull; the result's root may be too.
func ropeConcat(a, b *ropeNode) *ropeNode {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	switch {
	case a.height < b.height:
		bk := b.kids
		if a.height == b.height-1 && a.ok() {
			return ropeMergeKids([]*ropeNode{a}, bk)
		}
		c := ropeConcat(a, bk[0])
		if c.height == b.height-1 {
			return ropeMergeKids([]*ropeNode{c}, bk[1:])
		}
		return ropeMergeKids(c.kids, bk[1:])
	case a.height > b.height:
		ak := a.kids
		if b.height == a.height-1 && b.ok() {
			return ropeMergeKids(ak, []*ropeNode{b})
		}
		c := ropeConcat(ak[len(ak)-1], b)
		if c.height == a.height-1 {
			return ropeMergeKids(ak[:len(ak)-1], []*ropeNode{c})
		}
		return ropeMergeKids(ak[:len(ak)-1], c.kids)
	}
	if a.ok() && b.ok() {
		return ropeNewInner(a, b)
	}
	if a.height == 0 {
		return ropeMergeLeaves(a, b)
	}
	return ropeMergeKids(a.kids, b.kids)
}

// ropeSplit cuts a valid tree at UTF-16 offset pos into two valid trees
// (nil when empty). pos must not fall inside a surrogate pair (the caller
// checks); if it does, the pair goes right.
func ropeSplit(n *ropeNode, pos int) (l, r *ropeNode) {
	if n == nil || pos <= 0 {
		return nil, n
	}
	if pos >= n.n16 {
		return n, nil
	}
	if n.height == 0 {
		i, u, b, _ := n.locate(pos)
		var left, right []ropeRun
		left = append(left, n.runs[:i]...)
		if u > 0 {
			run := &n.runs[i]
			left = append(left, run.cut(0, u, 0, b))
			right = append(right, run.cut(u, run.n16, b, len(run.text)))
			i++
		}
		right = append(right, n.runs[i:]...)
		return ropeNewLeaf(left), ropeNewLeaf(right)
	}
	off := 0
	for i, k := range n.kids {
		if pos == off {
			return ropeNodeOf(n.kids[:i]), ropeNodeOf(n.kids[i:])
		}
		if pos < off+k.n16 {
			kl, kr := ropeSplit(k, pos-off)
			return ropeConcat(ropeNodeOf(n.kids[:i]), kl), ropeConcat(kr, ropeNodeOf(n.kids[i+1:]))
		}
		off += k.n16
	}
	return n, nil // not reached: pos < n.n16
}

// ---- paths ----

// ropePath is the way from a root down to one leaf, kept on the stack so
// that finding a leaf allocates nothing.
type ropePath struct {
	nodes [ropeMaxDepth]*ropeNode // the internal nodes, root first
	idx   [ropeMaxDepth]int       // which kid the path takes in each
	depth int
}

// find descends to the leaf holding units [pos, pos+del] and returns it
// with the unit where it starts. At a boundary between two leaves an
// insert (del == 0) goes to the left one, so typing at the end of a leaf
// extends it. ok is false if no single leaf holds the range (or the tree is
// deeper than ropeMaxDepth).
func (p *ropePath) find(root *ropeNode, pos, del int) (leaf *ropeNode, start int, ok bool) {
	p.depth = 0
	n, o := root, pos
	if n == nil || pos < 0 || pos+del > n.n16 {
		return nil, 0, false
	}
	for n.height > 0 {
		if p.depth == ropeMaxDepth {
			return nil, 0, false
		}
		i, off, lens := 0, 0, n.lens
		for ; i < len(lens)-1; i++ {
			end := off + int(lens[i])
			if o < end || (o == end && del == 0) {
				break
			}
			off = end
		}
		if o-off+del > int(lens[i]) {
			return nil, 0, false
		}
		k := n.kids[i]
		p.nodes[p.depth], p.idx[p.depth] = n, i
		p.depth++
		n, o = k, o-off
	}
	return n, pos - o, true
}

// replace returns a new root where the leaf found last, old, is replaced
// by leaf: a copy of each node on the path, sharing every other kid.
func (p *ropePath) replace(old, leaf *ropeNode) *ropeNode {
	d16, db := leaf.n16-old.n16, leaf.nbytes-old.nbytes
	child := leaf
	for depth := p.depth - 1; depth >= 0; depth-- {
		n := p.nodes[depth]
		a := new(ropeInnerAlloc)
		c := &a.n
		*c = *n
		c.kids = a.kids[:len(n.kids):len(n.kids)]
		c.lens = a.lens[:len(n.kids):len(n.kids)]
		copy(c.kids, n.kids)
		copy(c.lens, n.lens)
		c.kids[p.idx[depth]] = child
		c.lens[p.idx[depth]] = int32(child.n16)
		c.n16 += d16
		c.nbytes += db
		c.astral = n.astral || child.astral
		child = c
	}
	return child
}
