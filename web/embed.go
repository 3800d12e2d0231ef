package web

import (
	"embed"
	"io/fs"
)

// dist is the built editor (web/build.mjs writes it; it is committed, so a
// fresh clone builds and serves the editor without npm).
//
//go:embed all:dist
var dist embed.FS

// Assets returns the built editor rooted at dist: index.html and assets/.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("web: embedded dist is missing: " + err.Error()) // cannot happen: go:embed checked it
	}
	return sub
}
