#!/usr/bin/env bash
# The event store's speed (docs/performance.md, "Event store"): appends, replay and a
# projection with the release build, against a plain SQLite bulk insert and read of the
# same rows (Benchmarks/store/bulk_insert.py, the ceiling).
#
#   Benchmarks/store.sh [EVENTS]      # EVENTS defaults to 1000000
#   BASELINE=/path/to/old/sluice Benchmarks/store.sh   # also measures an older build,
#                                     # alternating with this one run by run
#
# Refuses to measure when the machine is busy (1-minute load of 3 or more; FORCE=1
# measures anyway): numbers taken while other builds run are noise. Each figure is the
# median of RUNS (3) runs, each on a fresh store file.
set -euo pipefail

N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BIN:-$ROOT/.build/release/sluice}
BASELINE=${BASELINE:-}
S=$ROOT/Benchmarks/store
WORK=${WORK:-${TMPDIR:-/tmp}/sluice-store-bench}
RUNS=${RUNS:-3}
mkdir -p "$WORK"

load=$(cut -d' ' -f1 /proc/loadavg)
if [ "${FORCE:-0}" != 1 ] && awk -v l="$load" 'BEGIN { exit !(l >= 3) }'; then
    echo "store.sh: the machine is busy (load $load); measure when it is below 3, or FORCE=1" >&2
    exit 2
fi
[ -x "$BIN" ] || swift build -c release --product sluice
DATA=$WORK/events-$N.jsonl
[ -s "$DATA" ] || python3 "$ROOT/Benchmarks/gen_events.py" "$N" "$DATA"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Runs a command; prints its wall-clock seconds and logs "LABEL wall cpu" (cpu: user +
# system seconds, less sensitive than wall-clock to other work on the machine).
secs() {
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" bash -c "$2"
    tail -1 "$WORK/time" | awk -v l="$1" '{ printf "%s %s %.2f\n", l, $1, $2 + $3 }' >> "$WORK/times.log"
    tail -1 "$WORK/time" | cut -d' ' -f1
}
eps() { awk -v n="$N" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }

A=() R=() P=() CI=() CR=() BA=() BR=() BP=()
: > "$WORK/times.log"
for ((i = 0; i < RUNS; i++)); do
    cp "$S"/*.yaml "$WORK"/
    if [ -n "$BASELINE" ]; then
        rm -f "$WORK"/bench.db*
        BA+=("$(secs baseline-append "'$BASELINE' run '$WORK/append.yaml' < '$DATA'")")
        BR+=("$(secs baseline-replay "'$BASELINE' run '$WORK/replay.yaml' > '$WORK/replay.out'")")
        BP+=("$(secs baseline-project "'$BASELINE' run '$WORK/project.yaml'")")
    fi
    rm -f "$WORK"/bench.db* "$WORK"/ceiling.db*
    A+=("$(secs append "'$BIN' run '$WORK/append.yaml' < '$DATA'")")
    R+=("$(secs replay "'$BIN' run '$WORK/replay.yaml' > '$WORK/replay.out'")")
    P+=("$(secs project "'$BIN' run '$WORK/project.yaml'")")
    python3 "$S/bulk_insert.py" "$DATA" "$WORK/ceiling.db" > "$WORK/ceiling.out"
    CI+=("$(awk '/^insert/ {print $2}' "$WORK/ceiling.out")")
    CR+=("$(awk '/^read/ {print $2}' "$WORK/ceiling.out")")
done
[ "$(wc -l < "$WORK/replay.out")" -eq "$N" ] || { echo "store.sh: the replay gave $(wc -l < "$WORK/replay.out") events, not $N" >&2; exit 1; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at end; $N events, median of $RUNS"
printf '%-34s %8s %12s %8s\n' "workload" "seconds" "events/s" "cpu s"
cpu() { [ -n "$1" ] && median $(awk -v l="$1" '$1 == l { print $3 }' "$WORK/times.log") || true; }
row() { printf '%-34s %8s %12s %8s\n' "$1" "$2" "$(eps "$2")" "$(cpu "${3:-}")"; }
if [ -n "$BASELINE" ]; then
    row "baseline append" "$(median "${BA[@]}")" baseline-append
    row "baseline replay" "$(median "${BR[@]}")" baseline-replay
    row "baseline project" "$(median "${BP[@]}")" baseline-project
fi
row "sluice append (store output)" "$(median "${A[@]}")" append
row "sluice replay (store input)" "$(median "${R[@]}")" replay
row "sluice project (replay + fold)" "$(median "${P[@]}")" project
row "ceiling: python sqlite3 insert" "$(median "${CI[@]}")"
row "ceiling: python sqlite3 read" "$(median "${CR[@]}")"
