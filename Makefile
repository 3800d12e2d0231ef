# The test command CI runs (.ci/run) is `make test`: it installs what the
# tests need if missing (Postgres server binaries, the quill-delta package
# for the differential test, Debian's Chromium and the editor's npm packages),
# then runs lint, every Go test with the race detector, a smoke run of
# scripts/bench-live.sh, the web checks (fresh web/dist, JS client tests,
# browser tests) and short fuzz runs.
.PHONY: test lint gotest fuzz web bench bench-live run

test:
	./scripts/test.sh

lint:
	./scripts/test.sh lint

fuzz:
	./scripts/test.sh fuzz

web:
	./scripts/test.sh web

bench:
	go test ./ot ./store/... -run='^$$' -bench=. -benchmem -count=5

# The live-editing load runs of docs/benchmarks.md (about 6 minutes).
bench-live:
	./scripts/bench-live.sh

run:
	go run ./cmd/collabd
