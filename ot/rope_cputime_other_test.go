//go:build !unix

package ot

import "time"

// ropeCPUTime is not measured here; benchmarks then report 0 cpu-ms/op.
func ropeCPUTime() time.Duration { return 0 }
