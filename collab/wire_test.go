package collab

import "testing"

// TestParsePresenceVersion: presence's version is optional (clients from
// before it send none); when there, it is a non-negative integer.
func TestParsePresenceVersion(t *testing.T) {
	for _, tc := range []struct {
		frame   string
		version int64 // -1: none
	}{
		{`{"type":"presence","range":{"index":1,"length":0}}`, -1},
		{`{"type":"presence","range":{"index":1,"length":0},"version":null}`, -1},
		{`{"type":"presence","range":{"index":1,"length":0},"version":0}`, 0},
		{`{"type":"presence","range":null,"version":42}`, 42},
	} {
		m, err := ParseClientMessage([]byte(tc.frame))
		if err != nil {
			t.Errorf("%s: %v", tc.frame, err)
			continue
		}
		switch {
		case tc.version < 0 && m.Version != nil:
			t.Errorf("%s: version %d, want none", tc.frame, *m.Version)
		case tc.version >= 0 && (m.Version == nil || *m.Version != tc.version):
			t.Errorf("%s: version %v, want %d", tc.frame, m.Version, tc.version)
		}
	}
	for _, frame := range []string{
		`{"type":"presence","range":{"index":1,"length":0},"version":-1}`,
		`{"type":"presence","range":{"index":1,"length":0},"version":1.5}`,
		`{"type":"presence","range":{"index":1,"length":0},"version":"3"}`,
		`{"type":"presence","range":null,"version":{}}`,
	} {
		if _, err := ParseClientMessage([]byte(frame)); ErrorCode(err) != BadMessage {
			t.Errorf("%s: error %v, want bad_message", frame, err)
		}
	}
}
