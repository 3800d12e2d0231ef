package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// ParseDoc is held to DocFromDelta(ParseDelta(b)) on every input: the
// same error (kind and message) or the same tree, node for node.

// docViaDelta is what ParseDoc replaces.
func docViaDelta(b []byte) (Doc, error) {
	d, err := ParseDelta(b)
	if err != nil {
		return Doc{}, err
	}
	return DocFromDelta(d)
}

// checkParseDoc fails t unless ParseDoc(b) agrees with docViaDelta(b).
func checkParseDoc(t testing.TB, b []byte) {
	t.Helper()
	want, werr := docViaDelta(b)
	got, gerr := ParseDoc(b)
	if werr != nil || gerr != nil {
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Fatalf("ParseDoc(%s):\n error %v\n want  %v", clipTest(b), gerr, werr)
		}
		var e *Error
		if !errors.As(gerr, &e) || !errors.Is(gerr, errKind(werr)) {
			t.Fatalf("ParseDoc(%s): error %#v is not a typed *Error of kind %v", clipTest(b), gerr, errKind(werr))
		}
		return
	}
	if got.n != want.n {
		t.Fatalf("ParseDoc(%s): Len %d, want %d", clipTest(b), got.n, want.n)
	}
	ropeCheck(t, got)
	ropeSameTree(t, got.root, want.root, "root")
	if !Equal(got.Delta(), want.Delta()) {
		t.Fatalf("ParseDoc(%s): Delta %s, want %s", clipTest(b), js(t, got.Delta()), js(t, want.Delta()))
	}
}

func clipTest(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q... (%d bytes)", b[:300], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// ropeSameTree fails t unless a and b have the same shape, lengths, runs,
// formats and embeds. Astral flags may differ (they are hints: ParseDoc's
// pieces of a long run know only their own text); ropeCheck checks that
// each is set where it must be.
func ropeSameTree(t testing.TB, a, b *ropeNode, path string) {
	t.Helper()
	if a.height != b.height || a.n16 != b.n16 || a.nbytes != b.nbytes || len(a.kids) != len(b.kids) || len(a.runs) != len(b.runs) {
		t.Fatalf("%s: height %d, %d units, %d bytes, %d kids, %d runs; want %d, %d, %d, %d, %d", path,
			a.height, a.n16, a.nbytes, len(a.kids), len(a.runs), b.height, b.n16, b.nbytes, len(b.kids), len(b.runs))
	}
	for i := range a.kids {
		ropeSameTree(t, a.kids[i], b.kids[i], path+"/"+strconv.Itoa(i))
	}
	for i := range a.runs {
		r, s := &a.runs[i], &b.runs[i]
		if r.text != s.text || r.n16 != s.n16 || !ropeAttrsEqual(r.attrs, s.attrs) || (r.embed == nil) != (s.embed == nil) ||
			r.embed != nil && (r.embed.Key != s.embed.Key || !bytes.Equal(r.embed.Value, s.embed.Value)) {
			t.Fatalf("%s run %d: %q %d %v %v, want %q %d %v %v", path, i, r.text, r.n16, r.attrs, r.embed, s.text, s.n16, s.attrs, s.embed)
		}
	}
}

// ropeTestLargeDelta is a document of about size bytes of JSON shaped like
// a real one: paragraphs with emoji and escapes, formatted runs repeating
// a few formats, embeds (some equal, some not), header lines.
func ropeTestLargeDelta(size int) Delta {
	var d Delta
	for n, i := 0, 0; n < size; i++ {
		var op Op
		switch i % 5 {
		case 0:
			op = InsertText(fmt.Sprintf("Paragraph %d: héllo wörld 😀🎉 𝄞 — “quotes” and \\ backslash\t", i), nil)
		case 1:
			op = InsertText(strings.Repeat("plain text ", 8), Attributes{"bold": true, "color": "#ff0000", "size": 12.5})
		case 2:
			op = InsertEmbed("image", json.RawMessage(fmt.Sprintf(`"https://example.com/%d.png"`, i)), Attributes{"width": "100"})
		case 3:
			op = InsertEmbed("formula", json.RawMessage(`{"z":2,"a":[1,2.5,"x"],"m":{"b":true,"a":null}}`), nil)
		case 4:
			op = InsertText("\n", Attributes{"header": float64(1 + i%3)})
		}
		d = append(d, op)
		n += len(op.Insert) + 40
	}
	return append(d, InsertText("\n", nil))
}

// ropeTestJSON writes doc as JSON a client might send rather than as
// MarshalJSON does: text ops split into pieces with equal formats (which
// ParseDoc must merge), keys in either order, formats set to null (which
// it must drop), empty formats, whitespace, sometimes {"ops":[...]}.
func ropeTestJSON(r *rand.Rand, doc Delta) []byte {
	var sb strings.Builder
	ws := func() {
		if r.IntN(8) == 0 {
			sb.WriteString([]string{" ", "\n", "\t ", "\r\n"}[r.IntN(4)])
		}
	}
	wrapped := r.IntN(4) == 0
	if wrapped {
		sb.WriteString(`{"ops":`)
	}
	sb.WriteByte('[')
	first := true
	writeOp := func(text string, embed *Embed, attrs Attributes) {
		if !first {
			sb.WriteByte(',')
		}
		first = false
		ws()
		var ins []byte
		var err error
		if embed != nil {
			ins, err = Delta{{Embed: embed}}.MarshalJSON()
		} else {
			ins, err = Delta{{Insert: text}}.MarshalJSON()
		}
		if err != nil {
			panic(fmt.Sprintf("%q %v: %v", text, embed, err))
		}
		ins = ins[len(`[{"insert":`) : len(ins)-2]
		var at []byte
		switch {
		case len(attrs) > 0:
			a := Attributes{}
			for k, v := range attrs {
				a[k] = v
			}
			if r.IntN(4) == 0 {
				a["font"] = nil
			}
			at, _ = appendAttributes(nil, a)
		case r.IntN(6) == 0:
			at = []byte(`{}`)
		case r.IntN(6) == 0:
			at = []byte(`{"bold":null}`)
		}
		sb.WriteByte('{')
		if at != nil && r.IntN(2) == 0 {
			fmt.Fprintf(&sb, `"attributes":%s,"insert":%s`, at, ins)
		} else if at != nil {
			fmt.Fprintf(&sb, `"insert": %s , "attributes" : %s`, ins, at)
		} else {
			fmt.Fprintf(&sb, `"insert":%s`, ins)
		}
		sb.WriteByte('}')
		ws()
	}
	for _, op := range doc {
		if op.Embed != nil || r.IntN(3) != 0 {
			writeOp(op.Insert, op.Embed, op.Attributes)
			continue
		}
		// Split the text at rune boundaries into pieces.
		s := op.Insert
		for s != "" {
			k := len(s)
			if r.IntN(2) == 0 {
				k = 1 + r.IntN(len(s))
				for k < len(s) && !isRuneStart(s[k]) {
					k++
				}
			}
			writeOp(s[:k], nil, op.Attributes)
			s = s[k:]
		}
	}
	sb.WriteByte(']')
	if wrapped {
		ws()
		sb.WriteByte('}')
	}
	ws()
	return []byte(sb.String())
}

func isRuneStart(c byte) bool { return c&0xC0 != 0x80 }

// ropeTestMutate damages b: a byte changed, inserted or cut, the input
// truncated, an op that is not an insert spliced in, or the final newline
// taken away.
func ropeTestMutate(r *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) == 0 {
		return b
	}
	special := []string{`"`, `\`, `{`, `}`, `[`, `]`, `,`, `:`, `0`, `-`, "\xff", "\xed\xa0\x80", `\ud800`, `\u00e9`,
		`n`, ` `, `null`, `{"retain":2},`, `{"delete":1},`, `{"insert":""},`, `{"insert":{}},`, `"attributes":{"bold":null},`,
		`{"insert":"x","retain":1},`, `1e400`, "\x01", `{"insert":"\n"}`, `,{"retain":1,"attributes":{"b":null}}`}
	for range 1 + r.IntN(3) {
		i := r.IntN(len(b) + 1)
		switch r.IntN(6) {
		case 0: // change a byte
			if i < len(b) {
				b[i] = special[r.IntN(len(special))][0]
			}
		case 1, 2: // insert something
			b = append(b[:i:i], append([]byte(special[r.IntN(len(special))]), b[i:]...)...)
		case 3: // cut a few bytes
			j := min(len(b), i+1+r.IntN(8))
			b = append(b[:i:i], b[j:]...)
		case 4: // truncate
			b = b[:i]
		case 5: // take the last newline away
			if k := bytes.LastIndex(b, []byte(`\n`)); k >= 0 {
				b = append(b[:k:k], b[k+2:]...)
			}
		}
	}
	return b
}

func TestParseDocAgreesWithDocFromDelta(t *testing.T) {
	forSeeds(t, func(t *testing.T, r *rand.Rand) {
		doc := randomDoc(r)
		if r.IntN(16) == 0 { // long enough for several leaves, levels, cuts
			for range 1 + r.IntN(60) {
				doc = append(doc, randomDoc(r)...)
			}
		}
		canon, err := doc.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		checkParseDoc(t, canon)
		loose := ropeTestJSON(r, doc)
		checkParseDoc(t, loose)
		for range 10 {
			checkParseDoc(t, ropeTestMutate(r, loose))
			checkParseDoc(t, ropeTestMutate(r, canon))
		}
	})
}

// Not documents, not JSON, or nearly: each must fail as DocFromDelta(
// ParseDelta(b)) fails, with the same message.
func TestParseDocRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind error
	}{
		{``, ErrMalformed},
		{`null`, ErrMalformed},
		{`[]`, ErrDoesNotFit},
		{`{"ops":[]}`, ErrDoesNotFit},
		{`[{"insert":"a"}]`, ErrDoesNotFit},
		{`[{"insert":{"image":"x"}}]`, ErrDoesNotFit},
		{`[{"insert":"\n"},{"insert":{"image":"x"}}]`, ErrDoesNotFit},
		{`[{"retain":1}]`, ErrMalformed},
		{`[{"insert":"a"},{"delete":1},{"insert":"\n"}]`, ErrMalformed},
		{`[{"retain":1},{"insert":"\ud800\n"}]`, ErrInvalidUTF8}, // ParseDelta's error comes first
		{`[{"retain":1},{"insert":"a\n"}`, ErrMalformed},
		{`[{"delete":1},{"insert":"\n"}] x`, ErrMalformed},
		{`[{"insert":"\n"}] x`, ErrMalformed},
		{`{"ops":[{"insert":"\n"}],"x":1}`, ErrMalformed},
		{`[{"insert":"a\n","insert":"b"}]`, ErrMalformed},
		{`[{"insert":"a\n","attributes":{"bold":{}}}]`, ErrMalformed},
		{`[{"insert":{"image":"x","video":"y"}},{"insert":"\n"}]`, ErrMalformed},
		{"[{\"insert\":\"\xff\\n\"}]", ErrInvalidUTF8},
		{`[{"insert":"a"},{"insert":"\ud83d\n"}]`, ErrInvalidUTF8},
		{`[{"retain":2000000000},{"insert":"\n"}]`, ErrTooLarge},
		{`[{"insert":{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}},{"insert":"\n"}]`, ErrMalformed},
	} {
		_, err := ParseDoc([]byte(tc.in))
		if !errors.Is(err, tc.kind) {
			t.Errorf("ParseDoc(%q) = %v, want %v", tc.in, err, tc.kind)
		}
		checkParseDoc(t, []byte(tc.in))
	}
}

// The caches must not let one op's formats or embed reach another's: equal
// bytes share, anything else does not; a null format is dropped, never
// shared.
func TestParseDocSharesOnlyEqual(t *testing.T) {
	in := `[{"insert":"a","attributes":{"bold":true}},{"insert":{"image":"x"}},` +
		`{"insert":"b","attributes":{"bold":true,"x":null}},{"insert":{"image":"x"}},` +
		`{"insert":"c","attributes":{"bold":false}},{"insert":{"image":"y"}},` +
		`{"insert":"d","attributes":{"bold":true}},{"insert":{"image":"x"},"attributes":{"bold":true}},{"insert":"\n"}]`
	checkParseDoc(t, []byte(in))
	d, err := ParseDoc([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"insert":"a","attributes":{"bold":true}},{"insert":{"image":"x"}},{"insert":"b","attributes":{"bold":true}},` +
		`{"insert":{"image":"x"}},{"insert":"c","attributes":{"bold":false}},{"insert":{"image":"y"}},` +
		`{"insert":"d","attributes":{"bold":true}},{"insert":{"image":"x"},"attributes":{"bold":true}},{"insert":"\n"}]`
	if got := js(t, d.Delta()); got != want {
		t.Fatalf("ParseDoc:\n %s\nwant\n %s", got, want)
	}
}

// Text longer than a chunk, coalesced across ops and across chunks, with
// astral characters at the cuts.
func TestParseDocLongRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{ropeMaxWeight - 20, ropeMaxWeight + 20, ropeChunk - 3, ropeChunk + 5, 3*ropeChunk + 1} {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(randomPieces[r.IntN(len(randomPieces))])
		}
		text := sb.String() + "\n"
		doc := Delta{InsertText(text, Attributes{"bold": true})}
		checkParseDoc(t, []byte(js(t, doc)))
		// The same text as many small ops: one run for DocFromDelta.
		for range 3 {
			checkParseDoc(t, ropeTestJSON(r, Delta{InsertText(text, nil)}))
		}
		// Alternating formats, then a long embed-free stretch.
		half := len(text) / 2
		for !isRuneStart(text[half]) {
			half++
		}
		checkParseDoc(t, ropeTestJSON(r, Delta{InsertText(text[:half], Attributes{"bold": true}), InsertEmbed("image", json.RawMessage(`"x"`), nil), InsertText(text[half:], nil)}))
	}
	big, err := ropeTestLargeDelta(1 << 20).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	checkParseDoc(t, big)
}

func TestDocUnmarshalJSON(t *testing.T) {
	var d Doc
	if err := json.Unmarshal([]byte(`{"ops":[{"insert":"hi"},{"insert":"\n","attributes":{"header":1}}]}`), &d); err != nil {
		t.Fatal(err)
	}
	if got, want := js(t, d.Delta()), `[{"insert":"hi"},{"insert":"\n","attributes":{"header":1}}]`; got != want {
		t.Fatalf("Unmarshal: %s, want %s", got, want)
	}
	if err := json.Unmarshal([]byte(`[{"retain":1}]`), &d); !errors.Is(err, ErrMalformed) || d.Len() != 3 {
		t.Fatalf("Unmarshal of an edit: %v, Len %d (want ErrMalformed, unchanged 3)", err, d.Len())
	}
}

// MarshalJSON streams the leaves; it must write d.Delta().MarshalJSON()
// byte for byte, after edits too (the hot leaf).
func TestDocMarshalJSONMatchesDelta(t *testing.T) {
	check := func(t *testing.T, d Doc) {
		t.Helper()
		got, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := d.Delta().MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("MarshalJSON:\n %s\nwant\n %s", clipTest(got), clipTest(want))
		}
	}
	check(t, Doc{})
	check(t, NewDoc())
	forSeeds(t, func(t *testing.T, r *rand.Rand) {
		doc := randomDoc(r)
		for range r.IntN(8) {
			doc = append(doc, randomDoc(r)...)
		}
		d, err := DocFromDelta(doc)
		if err != nil {
			t.Fatal(err)
		}
		check(t, d)
		for range 5 {
			edit := randomEdit(r, d.Delta())
			if d2, err := d.Apply(edit); err == nil {
				d = d2
			}
			check(t, d)
		}
	})
	for _, formatted := range []bool{false, true} {
		check(t, ropeBenchDoc(t, 1<<20, formatted))
	}
	big, err := DocFromDelta(ropeTestLargeDelta(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	check(t, big)
}

func FuzzParseDoc(f *testing.F) {
	for _, s := range []string{
		`[{"insert":"\n"}]`, `{"ops":[{"insert":"a😀"},{"insert":"b\n","attributes":{"bold":true,"x":null}}]}`,
		`[{"insert":{"image":"x"},"attributes":{"width":"100"}},{"insert":{"image":"x"}},{"insert":"\n"}]`,
		`[{"retain":1},{"insert":"\ud800"}]`, `[{"insert":"a"},{"insert":"a","attributes":{}},{"insert":"\n"}]`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParseDoc(t, data) })
}

// BenchmarkParseDoc1MiB and BenchmarkDocViaDelta1MiB decode the same
// snapshot-like document, the new way and the old.
func BenchmarkParseDoc1MiB(b *testing.B) {
	benchmarkDecodeDoc(b, func(js []byte) (Doc, error) { return ParseDoc(js) })
}

func BenchmarkDocViaDelta1MiB(b *testing.B) { benchmarkDecodeDoc(b, docViaDelta) }

func benchmarkDecodeDoc(b *testing.B, decode func([]byte) (Doc, error)) {
	js, err := ropeTestLargeDelta(1 << 20).MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(js); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDocMarshalJSON1MiB writes the snapshot-like document, as
// SaveSnapshot does.
func BenchmarkDocMarshalJSON1MiB(b *testing.B) {
	d, err := DocFromDelta(ropeTestLargeDelta(1 << 20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(d.root.nbytes))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDocDeltaMarshalJSON1MiB is what MarshalJSON did before it
// streamed the leaves: build the Delta, then write it.
func BenchmarkDocDeltaMarshalJSON1MiB(b *testing.B) {
	d, err := DocFromDelta(ropeTestLargeDelta(1 << 20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(d.root.nbytes))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Delta().MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
