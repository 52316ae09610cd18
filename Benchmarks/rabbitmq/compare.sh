#!/usr/bin/env bash
# Sluice pass-through from a RabbitMQ queue to an exchange, against the least a
# librabbitmq program does for the same job (loop.c: same prefetch, persistent
# publishes with confirms tracked by delivery tag, acks in batches with `multiple` once
# confirmed), on one broker started here (free loopback ports, state in a temporary
# folder, stopped at exit). The two sides run alternately (C S C S C S) so that a shared
# machine's drift hits both; each prints messages/s, and the medians and their ratio end
# the report. Each round also times the broker alone, the same way: the fill (persistent
# publishes confirmed 1000 at a time) and a drain (consume with batched acks, publishing
# nothing), its ceilings for each half of the job; and Sluice without checkpoints (acks
# after its output's confirms, docs/rabbitmq.md).
#
#   make release && Benchmarks/rabbitmq/compare.sh [MESSAGES]   # default 200000
#   SLUICE=path/to/sluice PREFETCH=1000 RUNS=3 CHECKPOINT_EVERY=1s Benchmarks/rabbitmq/compare.sh
set -euo pipefail
N=${1:-200000}
PREFETCH=${PREFETCH:-1000}
RUNS=${RUNS:-3}
EVERY=${CHECKPOINT_EVERY:-1s}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SLUICE:-$ROOT/.build/release/sluice}
[ -x "$BIN" ] || { echo "compare.sh: $BIN is missing (make release)" >&2; exit 1; }
SERVER_BIN=/usr/lib/rabbitmq/bin/rabbitmq-server
[ -x "$SERVER_BIN" ] || { echo "compare.sh: rabbitmq-server is missing (make deps)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-rmq-bench.XXXXXX")
cc -O2 -o "$WORK/loop" "$ROOT/Benchmarks/rabbitmq/loop.c" -lrabbitmq
LOOP=$WORK/loop

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port); DIST=$(free_port); EPMD=$(free_port)
mkdir -p "$WORK/mnesia" "$WORK/log"
echo "[]." > "$WORK/enabled_plugins"
echo "loopback_users = none" > "$WORK/rabbitmq.conf"
export HOME=$WORK RABBITMQ_NODENAME=bench$PORT@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
  RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$DIST ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
  RABBITMQ_MNESIA_BASE=$WORK/mnesia RABBITMQ_LOG_BASE=$WORK/log RABBITMQ_PID_FILE=$WORK/rabbit.pid \
  RABBITMQ_ENABLED_PLUGINS_FILE=$WORK/enabled_plugins RABBITMQ_CONFIG_FILE=$WORK/rabbitmq.conf
"$SERVER_BIN" > "$WORK/log/stdout" 2>&1 &
SERVER=$!
SLUICE_PID=
cleanup() {
  [ -n "$SLUICE_PID" ] && kill -9 "$SLUICE_PID" 2>/dev/null || true
  # rabbitmq-server 3.10 does not stop on SIGTERM here; its state is thrown away.
  # Its Erlang VM is the child of the rabbitmq-server script started here.
  pkill -9 -P "$SERVER" 2>/dev/null || true
  kill -9 "$SERVER" 2>/dev/null || true
  sleep 0.5
  epmd -port "$EPMD" -kill >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 600); do "$LOOP" "$PORT" fill bench-warm 0 2>/dev/null && break; sleep 0.1; done
"$LOOP" "$PORT" fill bench-warm 0

cat > "$WORK/p.yaml" <<YAML
inputs:
  in: { rabbitmq: { url: "amqp://guest:guest@127.0.0.1:$PORT/", queue: bench, prefetch: $PREFETCH, metadata: false } }
outputs:
  out: { from: [in], rabbitmq: { url: "amqp://guest:guest@127.0.0.1:$PORT/", exchange: bench-x, routing_key: "'bench'" } }
YAML

now() { date +%s.%N; }
rate() { python3 -c "print(round($N / ($2 - $1)))"; }
c_rates=(); s_rates=(); n_rates=(); f_rates=(); d_rates=()
# Fills the queue (timed: the publish ceiling).
fill() {
  "$LOOP" "$PORT" setup bench bench-x
  local t0 t1
  t0=$(now); "$LOOP" "$PORT" fill bench "$N"; t1=$(now)
  f_rates+=("$(rate "$t0" "$t1")")
}
# Sluice's pass-through with ARGS until bench-out holds N; its rate in LAST.
sluice() {
  local t0 t1
  rm -rf "$WORK/ckpt"
  t0=$(now)
  "$BIN" run "$WORK/p.yaml" "$@" 2> "$WORK/sluice.err" &
  SLUICE_PID=$!
  until [ "$("$LOOP" "$PORT" count bench-out)" -ge "$N" ]; do
    kill -0 "$SLUICE_PID" 2>/dev/null || { cat "$WORK/sluice.err" >&2; exit 1; }
    sleep 0.02
  done
  t1=$(now)
  kill -TERM "$SLUICE_PID"; wait "$SLUICE_PID" || true; SLUICE_PID=
  LAST=$(rate "$t0" "$t1")
}
for r in $(seq "$RUNS"); do
  fill
  t0=$(now); "$LOOP" "$PORT" move bench bench-x "$N" "$PREFETCH"; t1=$(now)
  c_rates+=("$(rate "$t0" "$t1")")

  fill
  sluice --checkpoint-dir "$WORK/ckpt" --checkpoint-every "$EVERY"
  s_rates+=("$LAST")

  fill
  sluice
  n_rates+=("$LAST")

  fill
  t0=$(now); "$LOOP" "$PORT" drain bench "$N" "$PREFETCH"; t1=$(now)
  d_rates+=("$(rate "$t0" "$t1")")
  echo "round $r: librabbitmq loop ${c_rates[-1]} msg/s, sluice ${s_rates[-1]} msg/s (checkpoints), ${n_rates[-1]} msg/s (none); broker: publish ${f_rates[-1]}, drain ${d_rates[-1]} msg/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
C=$(median "${c_rates[@]}"); S=$(median "${s_rates[@]}"); X=$(median "${n_rates[@]}")
F=$(median "${f_rates[@]}"); D=$(median "${d_rates[@]}")
echo "messages $N, prefetch $PREFETCH, checkpoints every $EVERY"
echo "median: librabbitmq loop $C msg/s, sluice $S msg/s with checkpoints ($(python3 -c "print(f'{$S / $C:.0%}')") of the loop), $X msg/s without ($(python3 -c "print(f'{$X / $C:.0%}')"))"
echo "median broker ceilings: publish (confirmed) $F msg/s, consume (batched acks) $D msg/s"
