#!/usr/bin/env bash
# The live-editing load runs of docs/benchmarks.md, against a throwaway
# Postgres with fsync and synchronous_commit on (every edit durable before
# its ack), a fresh collabd per run, the load generator on the same machine.
#
#   scripts/bench-live.sh           the standard set: RUNS (3) × 200 docs × 5
#                                   editors at 5/s for 60 s, 1 doc × 500
#                                   editors, and 19,800 idle connections
#   scripts/bench-live.sh quick     one 20 s run of 50 docs × 5: a smoke check
#   scripts/bench-live.sh -- ARGS   one run with these collab-bench flags
#
# DATABASE_URL, when set, names the Postgres to use instead (its database
# must exist; its processes are not measured). SERVER_FLAGS adds collabd
# flags (e.g. SERVER_FLAGS='--checkpoint-after 10m'). Results (JSON and each
# run's summary) go to OUT, by default bench-out/DATE.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-standard}
[ "$mode" = "--" ] && shift
RUNS=${RUNS:-3}
OUT=${OUT:-bench-out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

work=$(mktemp -d)
chmod 755 "$work" # the postgres user must reach its data directory
server_pid= pg_ctl= pg_data=
main_shell=$BASHPID
cleanup() {
	# Only the script itself cleans up, never a subshell that got a signal.
	[ "$BASHPID" = "$main_shell" ] || return 0
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "$pg_ctl" ] && $pg_ctl -D "$pg_data" stop -m fast >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building into $work"
go build -o "$work/collabd" ./cmd/collabd
go build -o "$work/collab-bench" ./cmd/collab-bench

# A port nothing listens on, tried at random in 20000-59999.
free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	echo "no free port found" >&2
	return 1
}

db_pid_args=()
if [ -n "${DATABASE_URL:-}" ]; then
	db_url=$DATABASE_URL
else
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	if [ -z "$bin" ]; then
		echo "no Postgres server binaries: apt-get install -y postgresql, or set DATABASE_URL" >&2
		exit 1
	fi
	as=()
	[ "$(id -u)" = 0 ] && as=(runuser -u postgres --) # initdb and postgres refuse root
	pg_data=$work/pg
	mkdir -p "$pg_data"
	touch "$work/postgres.log"
	[ "$(id -u)" = 0 ] && chown postgres "$pg_data" "$work/postgres.log"
	port=$(free_port)
	"${as[@]}" "$bin/initdb" -D "$pg_data" -U postgres -A trust --no-sync >"$work/initdb.log"
	pg_ctl="${as[*]} $bin/pg_ctl"
	$pg_ctl -D "$pg_data" -l "$work/postgres.log" -w start -o \
		"-p $port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c synchronous_commit=on" >/dev/null
	"${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres bench
	# Over its Unix socket, as a server on the database's own host would
	# connect: cheaper than loopback TCP for every commit's round trip.
	db_url="postgres://postgres@/bench?host=$pg_data&port=$port&sslmode=disable"
	db_pid_args=(--db-pid "$(head -1 "$pg_data/postmaster.pid")")
	echo "Postgres $("$bin/postgres" --version | awk '{print $3}') on $pg_data/.s.PGSQL.$port (fsync on)"
fi

# Idle connections need a file descriptor each, on both sides.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# run NAME FLAGS...: a fresh server, one collab-bench run, the server stopped.
run() {
	local name=$1
	shift
	rm -rf "$work/data"
	"$work/collabd" --addr 127.0.0.1:0 --data-dir "$work/data" --database-url "$db_url" \
		--ip-rate 5000 --ip-burst 10000 ${SERVER_FLAGS:-} >"$work/server.out" 2>"$OUT/$name.server.log" &
	server_pid=$!
	local url=
	for _ in $(seq 300); do
		url=$(sed -n 's/^collabd is serving on //p' "$work/server.out")
		[ -n "$url" ] && break
		kill -0 "$server_pid" 2>/dev/null || { echo "collabd exited: see $OUT/$name.server.log" >&2; return 1; }
		sleep 0.1
	done
	[ -n "$url" ] || { echo "collabd did not start in 30 s" >&2; return 1; }
	echo
	echo "== $name: $* (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	local status=0
	"$work/collab-bench" --server "$url" --pid "$server_pid" "${db_pid_args[@]}" --json "$OUT/$name.json" "$@" \
		>"$OUT/$name.txt" 2>&1 || status=$?
	sed -n '/^collab-bench/,$p' "$OUT/$name.txt"
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	return $status
}

case $mode in
quick)
	run quick --docs 50 --editors 5 --light 3 --light-edits --rate 5 --duration 20s --warmup 5s
	;;
standard)
	for i in $(seq "$RUNS"); do
		run "docs200-$i" --docs 200 --editors 5 --light 3 --light-edits --rate 5 --duration 60s --warmup 10s
	done
	run editors500 --docs 1 --editors 500 --light 490 --light-edits --rate 1 --duration 60s --warmup 10s
	idle=$(($(ulimit -n) - 200))
	run idle --idle $((idle < 19800 ? idle : 19800)) --docs 100 --duration 20s
	;;
--)
	run custom "$@"
	;;
*)
	echo "usage: $0 [standard|quick|-- COLLAB-BENCH-FLAGS]" >&2
	exit 2
	;;
esac
echo
echo "results in $OUT"
