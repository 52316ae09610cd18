#!/usr/bin/env bash
# PostgreSQL event store throughput (docs/performance.md, "PostgreSQL event store"):
#   1. `sluice run` appending EVENTS to a store in a fresh database (the store output),
#   2. `sluice run` replaying the whole store to /dev/null (the store input),
#   3. the ceiling: the same rows (same columns, positions and stream versions, computed
#      beforehand by python3 and not timed) loaded by one `psql \copy` into the same table
#      layout, indexes included.
# The server is a throwaway one: initdb into a temporary folder, default durability
# settings (fsync on), a free loopback port; stopped by pid at the end. As root it runs
# as `nobody` (PostgreSQL refuses root).
#
# usage: Benchmarks/pg-store-bench.sh [EVENTS.jsonl] [SLUICE_BINARY]
#   EVENTS defaults to 1,000,000 events from Benchmarks/gen_events.py; the binary to
#   .build/release/sluice (make release).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${2:-.build/release/sluice}
[ -x "$BIN" ] || { echo "no $BIN: run 'make release' first" >&2; exit 1; }

BINDIR=${SLUICE_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
[ -x "$BINDIR/postgres" ] || BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BINDIR/postgres" ] || { echo "PostgreSQL server binaries not found (make deps installs them)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sluice-pg-bench.XXXXXX)
AS=()
if [ "$(id -u)" -eq 0 ]; then
    AS=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --)
fi
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -INT "$PID"
        for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

EVENTS=${1:-}
if [ -z "$EVENTS" ]; then
    EVENTS=$WORK/events.jsonl
    python3 Benchmarks/gen_events.py 1000000 "$EVENTS"
fi
EVENTS=$(realpath "$EVENTS")
N=$(wc -l < "$EVENTS")

chmod 755 "$WORK"
mkdir -p "$WORK/pg" "$WORK/sock"
[ ${#AS[@]} -eq 0 ] || chown -R nobody "$WORK/pg" "$WORK/sock"
"${AS[@]}" "$BINDIR/initdb" -D "$WORK/pg/data" -U sluice -A trust -E UTF8 --locale=C >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${AS[@]}" "$BINDIR/postgres" -D "$WORK/pg/data" -p "$PORT" -k "$WORK/sock" -c listen_addresses=127.0.0.1 \
    >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 300); do "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.1; done
PSQL=("$BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U sluice)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE store" -c "CREATE DATABASE ceiling"
URL="postgres://sluice@127.0.0.1:$PORT/store"

now() { date +%s.%N; }
# rate N START END: "T s, R events/s"
rate() { python3 -c "import sys; n, t = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'{t:.2f} s, {n / t:,.0f} events/s')" "$@"; }

cat >"$WORK/append.yaml" <<EOF
inputs: { in: { file: $EVENTS } }
outputs:
  log: { from: [in], store: { postgres: "$URL", stream: user, id: id, type: type } }
EOF
cat >"$WORK/replay.yaml" <<EOF
inputs: { history: { store: { postgres: "$URL" } } }
outputs: { out: { from: [history], stdout: {} } }
EOF

t0=$(now)
"$BIN" run "$WORK/append.yaml"
t1=$(now)
STORED=$("${PSQL[@]}" -d store -c "SELECT COUNT(*) FROM events")
COMMITS=$("${PSQL[@]}" -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'store'")
echo "sluice append:   $STORED of $N events in $(rate "$STORED" "$t0" "$t1") (about $COMMITS transactions)"

t0=$(now)
"$BIN" run "$WORK/replay.yaml" >/dev/null
t1=$(now)
echo "sluice replay:   $STORED events in $(rate "$STORED" "$t0" "$t1")"

# The same with every commit waiting for its WAL flush (the store's default does not, like
# SQLite's synchronous=NORMAL; docs/event-sourcing.md).
"${PSQL[@]}" -d postgres -c "CREATE DATABASE store_sync"
sed "s|/store\"|/store_sync?options=-csynchronous_commit%3Don\"|" "$WORK/append.yaml" >"$WORK/append-sync.yaml"
t0=$(now)
"$BIN" run "$WORK/append-sync.yaml"
t1=$(now)
SYNCED=$("${PSQL[@]}" -d store_sync -c "SELECT COUNT(*) FROM events")
echo "sluice append, synchronous_commit=on: $SYNCED events in $(rate "$SYNCED" "$t0" "$t1")"

# The ceiling: the table layout sluice made (copied from the store database), filled by COPY.
"$BINDIR/pg_dump" -s -h 127.0.0.1 -p "$PORT" -U sluice store | "${PSQL[@]}" -d ceiling >/dev/null
python3 - "$EVENTS" "$WORK/rows.tsv" <<'EOF'
import json, sys, time
now = int(time.time() * 1000)
versions = {}
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for position, line in enumerate(src, 1):
        line = line.rstrip("\n")
        e = json.loads(line)
        stream = str(e["user"])
        v = versions.get(stream, 0) + 1
        versions[stream] = v
        data = line.replace("\\", "\\\\").replace("\t", "\\t")
        out.write(f"{position}\t{stream}\t{v}\t{e['id']}\t{e['type']}\t1\t{now}\t{data}\t{now}\n")
EOF
t0=$(now)
"${PSQL[@]}" -d ceiling -c "\\copy events (position, stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at) FROM '$WORK/rows.tsv'"
t1=$(now)
CEIL=$("${PSQL[@]}" -d ceiling -c "SELECT COUNT(*) FROM events")
echo "psql COPY (ceiling): $CEIL events in $(rate "$CEIL" "$t0" "$t1")"
