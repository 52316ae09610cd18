#!/usr/bin/env bash
# Sluice against jq 1.6 and plain Python on the same machine, in one run, so that the
# ratios are comparable even when the machine is shared and noisy.
#
#   make compare                       # builds release, installs jq if missing, runs this
#   Benchmarks/compare.sh [EVENTS]     # EVENTS defaults to 1000000
#
# Each timing is the median of 3 runs (RUNS; 5 for the parallelism pair, RUNS_PARALLEL)
# of `/usr/bin/time -f '%e %M'` (seconds, peak RSS in KiB); the two sides of each ratio
# run alternately (A B A B A B), so that drift in a shared machine's speed hits both. Every tool writes its output to a file in $WORK
# (not /dev/null), and the output line counts of Sluice and Python are printed side by side: they must agree.
# The pipelines are Benchmarks/pipelines/*.yaml; the Python baselines Benchmarks/python/.
set -euo pipefail

N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/.build/release/sluice
P=$ROOT/Benchmarks/pipelines
PY=$ROOT/Benchmarks/python
WORK=${WORK:-${TMPDIR:-/tmp}/sluice-compare}
RUNS=${RUNS:-3}
# The parallelism pair is the noisiest (two threads per core, and the two vCPUs of a
# shared host need not run at the same speed): more rounds for it.
RUNS_PARALLEL=${RUNS_PARALLEL:-5}
mkdir -p "$WORK"

[ -x "$BIN" ] || swift build -c release --product sluice
command -v jq >/dev/null || { echo "compare.sh: jq is missing (apt-get install jq)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "compare.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

DATA=$WORK/events-$N.jsonl
if [ ! -s "$DATA" ]; then
    echo "generating $N events into $DATA" >&2
    python3 "$ROOT/Benchmarks/gen_events.py" "$N" "$DATA"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "tools:   $($BIN version 2>/dev/null | head -1), $(jq --version), $(python3 --version)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
echo

# measure_pair NAME_A CMD_A NAME_B CMD_B: runs the two commands (bash strings)
# alternately, A B A B ..., $RUNS times each, so that a machine whose speed drifts
# during the run (a shared host does) slows both sides alike. Sets SECS_A, RSS_A,
# SECS_B, RSS_B: median seconds and median peak RSS (KiB). Outputs go to
# $WORK/NAME.out.
SECS_A=0 RSS_A=0 SECS_B=0 RSS_B=0 PAIRED=0
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Also sets PAIRED: the median over rounds of A's seconds / B's seconds, each round's
# two runs minutes apart at most (a paired comparison, less hurt by slow drift).
# PAIR_RUNS overrides RUNS for one call.
measure_pair() {
    local na=$1 ca=$2 nb=$3 cb=$4 sa=() ma=() sb=() mb=() rs=() i s m
    for ((i = 0; i < ${PAIR_RUNS:-$RUNS}; i++)); do
        /usr/bin/time -f '%e %M' -o "$WORK/time" bash -c "$ca > '$WORK/$na.out'"
        read -r s m < <(tail -1 "$WORK/time")
        sa+=("$s")
        ma+=("$m")
        /usr/bin/time -f '%e %M' -o "$WORK/time" bash -c "$cb > '$WORK/$nb.out'"
        read -r s m < <(tail -1 "$WORK/time")
        sb+=("$s")
        mb+=("$m")
        rs+=("$(awk -v a="${sa[$i]}" -v b="$s" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print 0 }')")
    done
    PAIRED=$(median "${rs[@]}")
    SECS_A=$(median "${sa[@]}")
    RSS_A=$(median "${ma[@]}")
    SECS_B=$(median "${sb[@]}")
    RSS_B=$(median "${mb[@]}")
}

ROWS=()
NOTES=()
# row WORKLOAD TOOL SECONDS RATIO
row() {
    local eps
    eps=$(awk -v n="$N" -v s="$3" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }')
    ROWS+=("$(printf '%-26s %-22s %8s %12s %8s' "$1" "$2" "$3" "$eps" "$4")")
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
lines() { wc -l < "$WORK/$1.out" | tr -d ' '; }

# Against jq: jq seconds / Sluice seconds.
versus_jq() {
    local workload=$1 yaml=$2 filter=$3
    measure_pair "$workload-sluice" "'$BIN' run '$P/$yaml' < '$DATA'" "$workload-jq" "jq -c '$filter' < '$DATA'"
    local s=$SECS_A r=$RSS_A j=$SECS_B
    SLUICE_RSS=$RSS_A
    row "$workload" "sluice" "$s" "$(ratio "$j" "$s")"
    row "$workload" "jq 1.6" "$j" "1.00x"
    NOTES+=("$workload: output lines sluice $(lines "$workload-sluice"), jq $(lines "$workload-jq"); sluice peak RSS $((r / 1024)) MiB")
}

# Against Python: Python seconds / Sluice seconds; output counts must agree.
versus_python() {
    local workload=$1 yaml=$2 script=$3
    measure_pair "$workload-sluice" "'$BIN' run '$P/$yaml' < '$DATA'" "$workload-python" "python3 $PY/$script < '$DATA'"
    local s=$SECS_A p=$SECS_B
    row "$workload" "sluice" "$s" "$(ratio "$p" "$s")"
    row "$workload" "python $(python3 -c 'import platform; print(platform.python_version())')" "$p" "1.00x"
    local a b
    a=$(lines "$workload-sluice")
    b=$(lines "$workload-python")
    NOTES+=("$workload: output events sluice $a, python $b $([ "$a" = "$b" ] && echo "(same)" || echo "(DIFFERENT)")")
}

versus_jq "pass-through" passthrough.yaml '.'
PASS_RSS=$SLUICE_RSS
versus_jq "filter" filter.yaml 'select(.amount > 250 and .country == "US")'
versus_jq "enrich" enrich.yaml '.cents = .amount * 100 | .big = .amount > 900'

versus_python "window tumbling 1m" window-tumbling.yaml "windows.py tumbling"
versus_python "window session 30s" window-session.yaml "windows.py session"
versus_python "pattern login>purchase" pattern.yaml "pattern.py"

# Keyed CPU-heavy chain: parallelism 1 seconds / parallelism 2 seconds.
PAIR_RUNS=$RUNS_PARALLEL measure_pair "chain-p1" "'$BIN' run '$P/keyed-chain.yaml' --parallelism 1 < '$DATA'" \
    "chain-p2" "'$BIN' run '$P/keyed-chain.yaml' --parallelism 2 < '$DATA'"
P1=$SECS_A
P2=$SECS_B
row "keyed chain" "sluice parallelism 1" "$P1" "1.00x"
row "keyed chain" "sluice parallelism 2" "$P2" "$(ratio "$P1" "$P2")"
NOTES+=("keyed chain: output lines parallelism 1 $(lines chain-p1), parallelism 2 $(lines chain-p2); $RUNS_PARALLEL rounds, median of each round's p1/p2: ${PAIRED}x")

# Fan-out: 3 streams over the same input against 1 (ratio: seconds / single's seconds).
measure_pair "fanout1" "'$BIN' run '$P/fanout1.yaml' < '$DATA'" "fanout3" "'$BIN' run '$P/fanout3.yaml' < '$DATA'"
F1=$SECS_A
F3=$SECS_B
row "fan-out" "sluice 1 stream" "$F1" "1.00x"
row "fan-out" "sluice 3 streams" "$F3" "$(ratio "$F3" "$F1")"

# The cost of --metrics (docs/observability.md): filter and W3 (tumbling window) with the
# endpoint on, scraped every 0.2 s while they run, against the same run without it,
# alternately (RUNS_METRICS rounds, default 5). Ratio: metered seconds / plain seconds
# (the target is at most 1.03). The scraper runs beside the run and is stopped when the
# run ends: polling in the foreground added the rest of its 0.2 s sleep to each metered
# run, 0.17 s on a 0.26 s filter run. The pair reads METRICS_EVENTS events (default five
# times EVENTS), so that the metrics endpoint's start-up, a fixed cost of a few
# milliseconds, does not pass for a per-event cost on a run of a quarter second.
M=${METRICS_EVENTS:-$((N * 5))}
MDATA=$WORK/events-$M.jsonl
if [ ! -s "$MDATA" ]; then
    echo "generating $M events into $MDATA" >&2
    python3 "$ROOT/Benchmarks/gen_events.py" "$M" "$MDATA"
fi
metrics_pair() {
    local workload=$1 yaml=$2 port DATA=$MDATA N=$M
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local scrape="curl -s -o /dev/null http://127.0.0.1:$port/metrics"
    command -v curl >/dev/null || scrape=true
    PAIR_RUNS=${RUNS_METRICS:-5} measure_pair "$workload-metrics" \
        "{ '$BIN' run '$P/$yaml' --metrics 127.0.0.1:$port < '$DATA' 2>/dev/null & pid=\$!; { while kill -0 \$pid 2>/dev/null; do $scrape; sleep 0.2; done; } & poll=\$!; wait \$pid; kill \$poll 2>/dev/null; wait \$poll 2>/dev/null || true; }" \
        "$workload-plain" "'$BIN' run '$P/$yaml' < '$DATA'"
    row "$workload" "sluice" "$SECS_B" "1.00x"
    row "$workload" "sluice --metrics" "$SECS_A" "$(ratio "$SECS_A" "$SECS_B")"
    NOTES+=("$workload --metrics: $M events; output lines $(lines "$workload-metrics") (without: $(lines "$workload-plain")); median of each round's metered/plain: ${PAIRED}x")
}
metrics_pair "filter" filter.yaml
metrics_pair "W3 tumbling" window-tumbling.yaml
# Checkpoints against none, on the tumbling-window workload (W3); both read the file as
# an input (stdin cannot be checkpointed), and each checkpointed run starts with an empty
# directory (else it would resume from the last one). The aim (docs/checkpoints.md) is
# under 1.10x for a checkpoint every second; a million events take about half a second,
# so that interval would take no checkpoint at all: the runs checkpoint every 100 ms
# (CHECKPOINT_EVERY), ten times as often, and the checkpoint count is in the notes.
# Ratio: checkpointed seconds / plain seconds.
EVERY=${CHECKPOINT_EVERY:-100ms}
measure_pair "w3-plain" "'$BIN' run '$P/window-tumbling.yaml' --input '$DATA'" \
    "w3-checkpoint" "rm -rf '$WORK/ckpt' && '$BIN' run '$P/window-tumbling.yaml' --input '$DATA' --checkpoint-dir '$WORK/ckpt' --checkpoint-every $EVERY --stats 2>'$WORK/w3-checkpoint.stats'"
row "window tumbling 1m" "sluice no checkpoints" "$SECS_A" "1.00x"
row "window tumbling 1m" "sluice checkpoint $EVERY" "$SECS_B" "$(ratio "$SECS_B" "$SECS_A")"
NOTES+=("checkpoints: output lines plain $(lines w3-plain), checkpointed $(lines w3-checkpoint); peak RSS $((RSS_A / 1024)) MiB against $((RSS_B / 1024)) MiB ($(ratio "$RSS_B" "$RSS_A")); median of each round's plain/checkpointed ${PAIRED}x; last run: $(grep -m1 '^checkpoints:' "$WORK/w3-checkpoint.stats" || echo 'no checkpoint line')")

# Peak RSS of pass-through over 10x the events (the same file read ten times).
TEN=$((N * 10))
/usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" run "$P/passthrough.yaml" \
    < <(for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$DATA"; done) > /dev/null
read -r TEN_SECS TEN_RSS < <(tail -1 "$WORK/time")

echo "workload                   tool                    seconds     events/s    ratio"
echo "-------------------------- ---------------------- -------- ------------ --------"
printf '%s\n' "${ROWS[@]}"
echo
echo "ratio: for jq and Python rows, how many times faster Sluice is (other / sluice);"
echo "parallelism: p1 / p2 seconds (higher is better); fan-out: 3 streams / 1 (lower is better);"
echo "--metrics: metered / plain seconds (lower is better; at most 1.03 is the target)."
echo
printf '%s\n' "${NOTES[@]}"
echo "peak RSS, pass-through: $((PASS_RSS / 1024)) MiB on $N events; $((TEN_RSS / 1024)) MiB on $TEN events ($TEN_SECS s, single run)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at end"
