// Package web holds the browser editor: Quill 2 with live cursors, its
// client library for the live protocol, and the built assets embedded in the
// binary so that `go run ./cmd/collabd` serves the editor without npm.
package web
