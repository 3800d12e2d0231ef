package sqlite

import (
	"testing"

	"github.com/collabd/collabd/store/storetest"
)

// go test -run '^$' -bench . -benchtime 100000x ./store/sqlite/
func BenchmarkAppend200Docs(b *testing.B) { storetest.BenchAppend(b, backend(), 200) }

func BenchmarkLoad1MiB1000Edits(b *testing.B) { storetest.BenchLoad(b, backend(), false) }

func BenchmarkLoadReplay1MiB1000Edits(b *testing.B) { storetest.BenchLoad(b, backend(), true) }

func BenchmarkDocAt100kEvery1000(b *testing.B) { storetest.BenchDocAt(b, backend(), 1000) }
