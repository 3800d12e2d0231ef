# The test command CI runs (.ci/run) is `make test`: it installs what the
# tests need if missing (Postgres server binaries, the quill-delta package
# for the differential test), then runs lint, every Go test with the race
# detector, and short fuzz runs.
.PHONY: test lint gotest fuzz bench run

test:
	./scripts/test.sh

lint:
	./scripts/test.sh lint

fuzz:
	./scripts/test.sh fuzz

bench:
	go test ./ot ./store/... -run='^$$' -bench=. -benchmem -count=5

run:
	go run ./cmd/collabd
