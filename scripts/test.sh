#!/usr/bin/env bash
# The one test command: `make test` (or `./scripts/test.sh`).
# Installs missing dependencies idempotently, then runs every check.
#   ./scripts/test.sh          everything
#   ./scripts/test.sh lint     gofmt, go vet
#   ./scripts/test.sh fuzz     only the short fuzz runs
#   ./scripts/test.sh web      only the web checks (dist freshness, JS client
#                              tests, browser tests in headless Chromium)
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
	install_web_deps
	# quill-delta, the reference the ot differential test runs against.
	if [ -f ot/quilldiff/package-lock.json ]; then
		if [ ! -d ot/quilldiff/node_modules ] || [ ot/quilldiff/package-lock.json -nt ot/quilldiff/node_modules ]; then
			step "installing quill-delta for the differential test"
			npm ci --prefix ot/quilldiff --no-audit --no-fund --loglevel=error
		fi
	fi
}

# What the web step needs: Debian's Chromium (never a browser downloaded by a
# test tool) and the editor's npm packages, reinstalled when the lock file
# is newer than what is installed.
install_web_deps() {
	if [ ! -x /usr/bin/chromium ]; then
		step "installing chromium (browser tests)"
		apt_install chromium
	fi
	if ! command -v node >/dev/null 2>&1; then
		step "installing nodejs"
		apt_install nodejs npm
	fi
	if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
		step "installing the editor's npm packages"
		npm ci --prefix web --no-audit --no-fund --loglevel=error
		touch web/node_modules
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

# web: the committed web/dist must be what web/build.mjs makes now (the
# binary embeds it, so a stale dist ships old code); then the client
# library's tests and the browser tests, each against a real server.
web() {
	step "web/dist is up to date"
	if [ ! -f web/build.mjs ]; then
		echo "web/build.mjs is missing: cannot check web/dist" >&2; return 1
	fi
	local out
	out=$(mktemp -d)
	if ! node web/build.mjs --out "$out/dist" >"$out/build.log" 2>&1; then
		cat "$out/build.log" >&2; rm -rf "$out"
		echo "node web/build.mjs failed" >&2; return 1
	fi
	if ! diff -r "$out/dist" web/dist >"$out/diff" 2>&1; then
		head -n 40 "$out/diff" >&2; rm -rf "$out"
		echo "web/dist is stale: run node web/build.mjs" >&2; return 1
	fi
	rm -rf "$out"
	# A hung test fails (per-test timeout) instead of holding CI; the outer
	# timeout catches a test process that never exits.
	step "web client tests"
	timeout --kill-after=30s 10m node --experimental-websocket --test --test-timeout=120000 web/test/client/
	step "web browser tests"
	timeout --kill-after=30s 10m node --experimental-websocket --test --test-timeout=120000 --test-concurrency=1 web/test/browser/
}

# The measurement script works end to end: its 20 s smoke run must finish
# with every document converged (collab-bench fails otherwise).
bench_smoke() {
	step "scripts/bench-live.sh quick"
	local out
	out=$(mktemp -d)
	OUT=$out timeout --kill-after=30s 5m ./scripts/bench-live.sh quick
	grep -q '"converged_docs": 50' "$out/quick.json"
	rm -rf "$out"
}

case "${1:-all}" in
	lint) lint ;;
	fuzz) fuzz ;;
	web)
		install_web_deps
		web
		;;
	all)
		install_deps
		lint
		gotest
		bench_smoke
		web
		fuzz
		step "all checks passed"
		;;
	*) echo "usage: $0 [lint|fuzz|web]" >&2; exit 2 ;;
esac
