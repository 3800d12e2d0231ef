// Package traces loads the real editing traces in ../shared/traces
// (Joseph Gentle's editing-traces collection, CC BY 4.0) for benchmarks,
// replay tests and the load generator, with positions converted to UTF-16
// code units, the unit of Quill deltas. It imports nothing of ours, so ot's
// own tests can use it.
package traces

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Names are the traces there are, largest first.
var Names = []string{"automerge-paper", "seph-blog1", "friendsforever_flat"}

// Patch deletes Del units at Pos, then inserts Ins there (UTF-16 units).
type Patch struct {
	Pos, Del int
	Ins      string
}

// Trace is one editing history.
type Trace struct {
	Name       string
	Start, End string
	Patches    []Patch // every transaction's patches, in order
}

// Dir returns the traces directory: $COLLABD_TRACES, else shared/traces
// beside the repository.
func Dir() (string, error) {
	dir := os.Getenv("COLLABD_TRACES")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "traces")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("editing traces not found at %s: check out shared/ beside the repository or set COLLABD_TRACES", dir)
	}
	return dir, nil
}

// Load reads a trace by name, with positions in UTF-16 units.
func Load(name string) (*Trace, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, name+".json.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	var raw struct {
		StartContent string `json:"startContent"`
		EndContent   string `json:"endContent"`
		Txns         []struct {
			Patches [][3]json.RawMessage `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(zr).Decode(&raw); err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	tr := &Trace{Name: name, Start: raw.StartContent, End: raw.EndContent}
	// Positions count code points. While every character is in the Basic
	// Multilingual Plane, as in all the traces here, a code point is one
	// UTF-16 unit and the numbers carry over as they are.
	if astral(raw.StartContent) || astral(raw.EndContent) {
		return nil, fmt.Errorf("trace %s has characters outside the BMP: positions would need converting", name)
	}
	for _, txn := range raw.Txns {
		for _, p := range txn.Patches {
			var pos, del int
			var ins string
			if json.Unmarshal(p[0], &pos) != nil || json.Unmarshal(p[1], &del) != nil || json.Unmarshal(p[2], &ins) != nil || pos < 0 || del < 0 {
				return nil, fmt.Errorf("trace %s: malformed patch %s", name, p)
			}
			if astral(ins) {
				return nil, fmt.Errorf("trace %s inserts characters outside the BMP: positions would need converting", name)
			}
			tr.Patches = append(tr.Patches, Patch{Pos: pos, Del: del, Ins: ins})
		}
	}
	return tr, nil
}

func astral(s string) bool {
	for _, r := range s {
		if r > 0xFFFF {
			return true
		}
	}
	return false
}
