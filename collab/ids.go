package collab

import (
	"crypto/rand"
	"encoding/base32"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random opaque id: 26 characters of lowercase base32 for
// 128 random bits, safe in URLs and unguessable.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics only if the OS can't supply randomness)
	return idEncoding.EncodeToString(b[:])
}

// cursorColors are distinct, readable on white, and assigned to users so
// that collaborators' cursors are told apart.
var cursorColors = []string{
	"#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42a5f5",
	"#f032e6", "#808000", "#008080", "#9a6324", "#800000", "#000075",
}

// ColorFor picks a cursor colour for a user id, the same every time.
func ColorFor(id UserID) string {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return cursorColors[h%uint32(len(cursorColors))]
}
