package ot

import (
	"encoding/json"
	"unicode/utf8"
)

// Attributes maps a format name to its value. Values are string, float64,
// bool or nil; nil appears only on retain (and in compose results on retain)
// and means "remove this format". A nil or empty map means no formats.
type Attributes map[string]any

// Embed is a non-text insert of length 1: a JSON object with exactly one key,
// such as {"image":"https://..."}. Value is the key's value as compact JSON,
// kept verbatim (the server never interprets it except when exporting).
type Embed struct {
	Key   string
	Value json.RawMessage
}

// Op is one component of a Delta. Exactly one of these holds:
//   - text insert: Insert != "" (Embed nil, Retain 0, Delete 0)
//   - embed insert: Embed != nil
//   - retain: Retain > 0
//   - delete: Delete > 0 (no Attributes)
//
// Build ops with InsertText, InsertEmbed, Retain and Delete, or decode them
// from JSON; a zero Op is not valid.
type Op struct {
	Insert     string
	Embed      *Embed
	Retain     int
	Delete     int
	Attributes Attributes
}

// Delta is a sequence of ops: an edit (retain, insert, delete) or, when it
// holds only inserts, a document. On the wire it is the JSON array of its
// ops, as quill-delta keeps in .ops. Deltas are values: functions in this
// package never modify a Delta they are given.
type Delta []Op

// Kind tells which of the three component kinds an op is.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindInsert       // text or embed
	KindRetain
	KindDelete
)

func (k Kind) String() string {
	switch k {
	case KindInsert:
		return "insert"
	case KindRetain:
		return "retain"
	case KindDelete:
		return "delete"
	}
	return "invalid"
}

// InsertText returns an op inserting s with the given formats (nil for none).
func InsertText(s string, attrs Attributes) Op { return Op{Insert: s, Attributes: attrs} }

// InsertEmbed returns an op inserting the embed {key: value}.
func InsertEmbed(key string, value json.RawMessage, attrs Attributes) Op {
	return Op{Embed: &Embed{Key: key, Value: value}, Attributes: attrs}
}

// Retain returns an op keeping n units, applying attrs (nil values remove).
func Retain(n int, attrs Attributes) Op { return Op{Retain: n, Attributes: attrs} }

// Delete returns an op removing n units.
func Delete(n int) Op { return Op{Delete: n} }

// Kind reports the op's kind, KindInvalid for an op that sets none or several.
func (o Op) Kind() Kind {
	switch {
	case o.Embed != nil && o.Insert == "" && o.Retain == 0 && o.Delete == 0:
		return KindInsert
	case o.Insert != "" && o.Embed == nil && o.Retain == 0 && o.Delete == 0:
		return KindInsert
	case o.Retain > 0 && o.Delete == 0 && o.Insert == "" && o.Embed == nil:
		return KindRetain
	case o.Delete > 0 && o.Retain == 0 && o.Insert == "" && o.Embed == nil:
		return KindDelete
	}
	return KindInvalid
}

// Len is the op's length in UTF-16 code units: the units it inserts, keeps
// or removes. An embed has length 1.
func (o Op) Len() int {
	switch {
	case o.Embed != nil:
		return 1
	case o.Insert != "":
		return UTF16Len(o.Insert)
	case o.Retain > 0:
		return o.Retain
	default:
		return o.Delete
	}
}

// UTF16Len counts the UTF-16 code units of valid UTF-8 text: one per rune,
// two for runes outside the Basic Multilingual Plane.
func UTF16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
