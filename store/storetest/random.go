package storetest

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/collabd/collabd/ot"
)

// randomEdit returns a random edit of doc (ASCII text, embeds, formats and
// deletes, never the final "\n") and doc with it applied. An edit whose
// boundary would split an astral character of doc is drawn again.
func randomEdit(t testing.TB, rng *rand.Rand, doc ot.Doc) (ot.Delta, ot.Doc) {
	t.Helper()
	for range 100 {
		d := randomDelta(rng, doc.Len())
		next, err := doc.Apply(d)
		if errors.Is(err, ot.ErrSplitsSurrogate) {
			continue
		}
		if err != nil {
			t.Fatalf("random edit %s does not apply to a document of %d: %v", jsonOf(t, d), doc.Len(), err)
		}
		return d, next
	}
	t.Fatal("no random edit fits the document")
	return nil, ot.Doc{}
}

// randomDelta draws an edit of a document of length n.
func randomDelta(rng *rand.Rand, n int) ot.Delta {
	pos := rng.IntN(n)
	var d ot.Delta
	if pos > 0 {
		d = append(d, ot.Retain(pos, nil))
	}
	switch k := rng.IntN(10); {
	case k < 5 || n < 3:
		var attrs ot.Attributes
		if rng.IntN(4) == 0 {
			attrs = ot.Attributes{"bold": true}
		}
		d = append(d, ot.InsertText(randomText(rng), attrs))
	case k < 6:
		d = append(d, ot.InsertEmbed("image", json.RawMessage(`{"src":"https://example.com/a.png","w":1.5}`), nil))
	case k < 8:
		if room := n - 1 - pos; room > 0 {
			d = append(d, ot.Delete(1+rng.IntN(min(8, room))))
		} else {
			d = append(d, ot.InsertText("z", nil))
		}
	default:
		span := 1 + rng.IntN(min(10, n-pos))
		d = append(d, ot.Retain(span, ot.Attributes{"italic": true, "size": float64(rng.IntN(3) + 10)}))
	}
	return d
}

func randomText(rng *rand.Rand) string {
	const letters = "abcdefghij klmnop\n"
	var b strings.Builder
	for range 1 + rng.IntN(6) {
		b.WriteByte(letters[rng.IntN(len(letters))])
	}
	return b.String()
}
