package ot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// Real editing traces (josephg/editing-traces, see shared/traces/README.md)
// replayed through Doc.Apply: one Delta per patch, built before timing.

var ropeTraceNames = []string{"automerge-paper", "seph-blog1", "friendsforever_flat"}

// ropeTrace is a trace converted to edits in UTF-16 units.
type ropeTrace struct {
	name  string
	start string  // startContent
	end   string  // endContent
	edits []Delta // one per patch, in order
}

// startDoc is startContent with the final "\n" a document needs.
func (tr *ropeTrace) startDoc(tb testing.TB) Doc {
	d, err := DocFromDelta(Delta{InsertText(tr.start+"\n", nil)})
	if err != nil {
		tb.Fatalf("%s: start document: %v", tr.name, err)
	}
	return d
}

// ropeTracesDir is ../../shared/traces from the package directory (the repo
// is checked out with shared/ beside it), or $COLLABD_TRACES. A missing
// directory fails the test: the replay is part of the suite, never skipped.
func ropeTracesDir(tb testing.TB) string {
	dir := os.Getenv("COLLABD_TRACES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "traces")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		tb.Fatalf("editing traces not found at %q (%v): check out shared/ beside the repo or set COLLABD_TRACES to the directory holding automerge-paper.json.gz", dir, err)
	}
	return dir
}

var ropeTraceCache sync.Map // name -> *ropeTrace

func ropeLoadTrace(tb testing.TB, name string) *ropeTrace {
	tb.Helper()
	if tr, ok := ropeTraceCache.Load(name); ok {
		return tr.(*ropeTrace)
	}
	path := filepath.Join(ropeTracesDir(tb), name+".json.gz")
	tr, err := ropeReadTrace(path)
	if err != nil {
		tb.Fatalf("load trace %s: %v", path, err)
	}
	tr.name = name
	ropeTraceCache.Store(name, tr)
	return tr
}

func ropeReadTrace(path string) (*ropeTrace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	// A small scanner for this one shape, not encoding/json: the traces
	// hold 400,000 patches, and decoding them by reflection takes seconds
	// under the race detector.
	sc := &ropeTraceScanner{b: data}
	var tr ropeTrace
	var patches []ropePatch
	err = sc.object(func(key string) error {
		switch key {
		case "startContent":
			tr.start, err = sc.str()
		case "endContent":
			tr.end, err = sc.str()
		case "txns":
			err = sc.array(func() error {
				return sc.object(func(key string) error {
					if key != "patches" {
						return sc.skip()
					}
					return sc.array(func() error {
						var p ropePatch
						if err := sc.expect('['); err != nil {
							return err
						}
						if p.pos, err = sc.int(); err != nil {
							return err
						}
						if err := sc.expect(','); err != nil {
							return err
						}
						if p.del, err = sc.int(); err != nil {
							return err
						}
						if err := sc.expect(','); err != nil {
							return err
						}
						if p.ins, err = sc.str(); err != nil {
							return err
						}
						patches = append(patches, p)
						return sc.expect(']')
					})
				})
			})
		default:
			err = sc.skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if tr.edits, err = ropePatchesToEdits(tr.start, patches); err != nil {
		return nil, err
	}
	return &tr, nil
}

// ropeTraceScanner reads the JSON of a trace: objects, arrays, strings and
// integers, and skips anything else it can hand to encoding/json.
type ropeTraceScanner struct {
	b []byte
	i int
}

func (s *ropeTraceScanner) ws() {
	b, i := s.b, s.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	s.i = i
}

func (s *ropeTraceScanner) expect(c byte) error {
	if s.ws(); s.i >= len(s.b) || s.b[s.i] != c {
		return fmt.Errorf("offset %d: want %q", s.i, c)
	}
	s.i++
	return nil
}

// list reads open, items separated by commas, close; item reads one.
func (s *ropeTraceScanner) list(open, close byte, item func() error) error {
	if err := s.expect(open); err != nil {
		return err
	}
	if s.ws(); s.i < len(s.b) && s.b[s.i] == close {
		s.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if s.ws(); s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			continue
		}
		return s.expect(close)
	}
}

func (s *ropeTraceScanner) array(item func() error) error { return s.list('[', ']', item) }

func (s *ropeTraceScanner) object(field func(key string) error) error {
	return s.list('{', '}', func() error {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		return field(key)
	})
}

func (s *ropeTraceScanner) int() (int, error) {
	s.ws()
	b, i, n := s.b, s.i, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && n < 1<<40; i++ {
		n = n*10 + int(b[i]-'0')
	}
	if i == s.i {
		return 0, fmt.Errorf("offset %d: want a non-negative integer", s.i)
	}
	s.i = i
	return n, nil
}

// str reads a string; escaped ones go through encoding/json, which knows
// every escape (the traces have few).
func (s *ropeTraceScanner) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	b, i := s.b, s.i
	start, escaped := i-1, false
	for ; i < len(b) && b[i] != '"'; i++ {
		if b[i] == '\\' {
			escaped = true
			i++
		}
	}
	if i >= len(b) {
		return "", fmt.Errorf("offset %d: unterminated string", start)
	}
	s.i = i + 1
	if !escaped {
		return string(b[start+1 : i]), nil
	}
	var out string
	err := json.Unmarshal(b[start:s.i], &out)
	return out, err
}

// skip passes over one value of any kind.
func (s *ropeTraceScanner) skip() error {
	if s.ws(); s.i < len(s.b) && s.b[s.i] == '"' {
		_, err := s.str()
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(s.b[s.i:]))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return err
	}
	s.i += int(dec.InputOffset())
	return nil
}

// ropePatch is [pos, delCount, insertText] in Unicode code points.
type ropePatch struct {
	pos, del int
	ins      string
}

// ropePatchesToEdits turns patches into Deltas in UTF-16 units:
// retain(pos).insert(s).delete(n), as quill-delta orders them. While no
// text has a rune outside the BMP, code points are UTF-16 units and the
// positions are used as they are; otherwise it replays the text as runes
// to convert (slow, but only in setup).
func ropePatchesToEdits(start string, patches []ropePatch) ([]Delta, error) {
	astral := ropeHasAstral(start)
	for _, p := range patches {
		astral = astral || ropeHasAstral(p.ins)
	}
	var runes []rune
	if astral {
		runes = []rune(start)
	}
	units := func(rs []rune) int {
		n := 0
		for _, r := range rs {
			n += utf16.RuneLen(r)
		}
		return n
	}
	// The edits share one array of ops and one string of inserted text,
	// laid out in order, as edits arriving one by one would be fresh in
	// cache: the replay measures Apply, not the heap layout of the setup.
	var text strings.Builder
	for _, p := range patches {
		text.WriteString(p.ins)
	}
	all, at := text.String(), 0
	ops := make([]Op, 0, 3*len(patches))
	edits := make([]Delta, 0, len(patches))
	for i, p := range patches {
		pos, del := p.pos, p.del
		if astral {
			if p.pos < 0 || p.del < 0 || p.pos+p.del > len(runes) {
				return nil, fmt.Errorf("patch %d: [%d, %d] runs past the end (%d code points)", i, p.pos, p.del, len(runes))
			}
			pos, del = units(runes[:p.pos]), units(runes[p.pos:p.pos+p.del])
			runes = append(runes[:p.pos], append([]rune(p.ins), runes[p.pos+p.del:]...)...)
		}
		first := len(ops)
		if pos > 0 {
			ops = append(ops, Retain(pos, nil))
		}
		if p.ins != "" {
			ops = append(ops, InsertText(all[at:at+len(p.ins)], nil))
			at += len(p.ins)
		}
		if del > 0 {
			ops = append(ops, Delete(del))
		}
		edits = append(edits, Delta(ops[first:len(ops):len(ops)]))
	}
	return edits, nil
}

func ropeHasAstral(s string) bool {
	for _, r := range s {
		if r >= 0x10000 {
			return true
		}
	}
	return false
}

// ropeGapModel is the plain reference for replays: UTF-16 units in a gap
// buffer, cheap for the local edits of typing.
type ropeGapModel struct {
	buf    []uint16
	gs, ge int // the gap is buf[gs:ge]
}

func newRopeGapModel(s string) *ropeGapModel {
	u := utf16.Encode([]rune(s))
	m := &ropeGapModel{buf: make([]uint16, len(u)+1024)}
	copy(m.buf, u)
	m.gs, m.ge = len(u), len(m.buf)
	return m
}

func (m *ropeGapModel) len() int { return len(m.buf) - (m.ge - m.gs) }

func (m *ropeGapModel) moveGap(pos int) {
	if pos < m.gs {
		n := m.gs - pos
		copy(m.buf[m.ge-n:m.ge], m.buf[pos:m.gs])
		m.gs, m.ge = pos, m.ge-n
	} else if pos > m.gs {
		n := pos - m.gs
		copy(m.buf[m.gs:m.gs+n], m.buf[m.ge:m.ge+n])
		m.gs, m.ge = pos, m.ge+n
	}
}

// apply applies a trace edit (retain, insert, delete; no attributes).
func (m *ropeGapModel) apply(e Delta) {
	pos := 0
	for _, op := range e {
		switch {
		case op.Retain > 0:
			pos += op.Retain
		case op.Delete > 0:
			m.moveGap(pos)
			m.ge += op.Delete
		default:
			u := utf16.Encode([]rune(op.Insert))
			if m.ge-m.gs < len(u) {
				grow := max(len(m.buf), len(u))
				nb := make([]uint16, len(m.buf)+grow)
				copy(nb, m.buf[:m.gs])
				copy(nb[m.ge+grow:], m.buf[m.ge:])
				m.buf, m.ge = nb, m.ge+grow
			}
			m.moveGap(pos)
			copy(m.buf[m.gs:], u)
			m.gs += len(u)
			pos += len(u)
		}
	}
}

func (m *ropeGapModel) String() string {
	u := make([]uint16, 0, m.len())
	u = append(append(u, m.buf[:m.gs]...), m.buf[m.ge:]...)
	return string(utf16.Decode(u))
}

// TestReplayTraces replays every trace fully through Doc.Apply, checking
// the final text, and at sampled points the whole Doc against a plain
// model, the tree invariants, and that Docs kept from earlier are
// unchanged (persistence).
func TestReplayTraces(t *testing.T) {
	for _, name := range ropeTraceNames {
		t.Run(name, func(t *testing.T) {
			tr := ropeLoadTrace(t, name)
			if !utf8.ValidString(tr.end) {
				t.Fatalf("endContent is not valid UTF-8")
			}
			d := tr.startDoc(t)
			m := newRopeGapModel(tr.start + "\n")
			type kept struct {
				at   int
				doc  Doc
				text string
			}
			var snapshots []kept
			const samples = 40
			every := max(len(tr.edits)/samples, 1)
			// In a few windows of edits the Delta algebra follows along
			// too (Apply on the Delta document; too slow for every edit).
			const windows, window = 4, 100
			var ref Delta
			refUntil := -1
			for i, e := range tr.edits {
				nd, err := d.Apply(e)
				if err != nil {
					t.Fatalf("edit %d %v: %v", i, e, err)
				}
				m.apply(e)
				if i <= refUntil {
					if ref, err = Apply(ref, e); err != nil {
						t.Fatalf("edit %d: Apply on the Delta document: %v", i, err)
					}
					if i == refUntil && !Equal(nd.Delta(), ref) {
						t.Fatalf("after edit %d: Doc and Delta document differ", i)
					}
				} else if i%(len(tr.edits)/windows) == window {
					ref, refUntil = d.Delta(), i+window
					if ref, err = Apply(ref, e); err != nil {
						t.Fatalf("edit %d: Apply on the Delta document: %v", i, err)
					}
				}
				if i%every == 0 || i == len(tr.edits)-1 {
					if got, want := nd.Text(), m.String(); got != want {
						t.Fatalf("after edit %d: text differs from the model at unit %d", i, ropeFirstDiff(got, want))
					}
					if nd.Len() != m.len() {
						t.Fatalf("after edit %d: Len = %d, want %d", i, nd.Len(), m.len())
					}
					ropeCheck(t, nd)
					if got := nd.Delta(); len(got) != 1 || got[0].Insert != nd.Text() {
						t.Fatalf("after edit %d: Delta of a plain document has %d ops, want 1 holding the text", i, len(got))
					}
					snapshots = append(snapshots, kept{i, nd, nd.Text()})
				}
				d = nd
			}
			if got, want := d.Text(), tr.end+"\n"; got != want {
				t.Fatalf("final text differs from endContent+\"\\n\" at unit %d (len %d, want %d)", ropeFirstDiff(got, want), len(got), len(want))
			}
			for _, s := range snapshots {
				if s.doc.Text() != s.text {
					t.Fatalf("the Doc after edit %d changed after later edits", s.at)
				}
			}
		})
	}
}

func ropeFirstDiff(a, b string) int {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := range min(len(ua), len(ub)) {
		if ua[i] != ub[i] {
			return i
		}
	}
	return min(len(ua), len(ub))
}

func benchmarkReplay(b *testing.B, name string) {
	tr := ropeLoadTrace(b, name)
	start := tr.startDoc(b)
	b.ReportAllocs()
	var d Doc
	cpu0 := ropeCPUTime()
	for b.Loop() {
		d = start
		var err error
		for _, e := range tr.edits {
			if d, err = d.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	// CPU time of the whole process (GC workers included) is steadier than
	// wall time on a busy machine.
	b.ReportMetric(float64((ropeCPUTime()-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.edits)), "ns/edit")
	if d.Len() != utf8.RuneCountInString(tr.end)+1 {
		b.Fatalf("final length %d, want %d", d.Len(), utf8.RuneCountInString(tr.end)+1)
	}
}

func BenchmarkReplayAutomergePaper(b *testing.B)     { benchmarkReplay(b, "automerge-paper") }
func BenchmarkReplaySephBlog1(b *testing.B)          { benchmarkReplay(b, "seph-blog1") }
func BenchmarkReplayFriendsForeverFlat(b *testing.B) { benchmarkReplay(b, "friendsforever_flat") }
