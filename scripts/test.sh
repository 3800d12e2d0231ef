#!/usr/bin/env bash
# The one test command: `make test` (or `./scripts/test.sh`).
# Installs missing dependencies idempotently, then runs every check.
#   ./scripts/test.sh          everything
#   ./scripts/test.sh lint     gofmt, go vet
#   ./scripts/test.sh fuzz     only the short fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
step() { printf '\n== %s\n' "$*"; }

apt_updated=
apt_install() {
	if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_deps() {
	# Postgres server binaries: the tests start their own throwaway cluster
	# (internal/pgtest), unless DATABASE_URL names one.
	if [ -z "${DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
		step "installing postgresql"
		apt_install postgresql
	fi
	if ! command -v curl >/dev/null 2>&1; then
		step "installing curl (examples/curl-demo.sh is tested)"
		apt_install curl
	fi
	if ! command -v node >/dev/null 2>&1; then
		step "installing nodejs"
		apt_install nodejs npm
	fi
	# quill-delta, the reference the ot differential test runs against.
	if [ -f ot/quilldiff/package-lock.json ]; then
		if [ ! -d ot/quilldiff/node_modules ] || [ ot/quilldiff/package-lock.json -nt ot/quilldiff/node_modules ]; then
			step "installing quill-delta for the differential test"
			npm ci --prefix ot/quilldiff --no-audit --no-fund --loglevel=error
		fi
	fi
}

lint() {
	step "gofmt"
	unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
	if [ -n "$unformatted" ]; then
		echo "gofmt wants to change:"; echo "$unformatted"; return 1
	fi
	step "go vet"
	go vet ./...
}

fuzz() {
	# Each target for a short while: the seed corpus under testdata/fuzz runs
	# in every `go test` anyway; this searches a little beyond it.
	for pkg in $(go list ./...); do
		dir=$(go list -f '{{.Dir}}' "$pkg")
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
			step "fuzz $pkg $target ($FUZZTIME)"
			go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME"
		done
	done
}

gotest() {
	step "go test -race ./..."
	go test -race -timeout 20m ./...
}

case "${1:-all}" in
	lint) lint ;;
	fuzz) fuzz ;;
	all)
		install_deps
		lint
		gotest
		fuzz
		step "all checks passed"
		;;
	*) echo "usage: $0 [lint|fuzz]" >&2; exit 2 ;;
esac
