#!/usr/bin/env python3
"""Writes the events of N concurrent order sagas (pipelines/saga.yaml), deterministically.

usage: gen_saga_replies.py N [OUT] [--failure-rate F] [--timeout-rate T]
Every saga starts first (so N sagas run at once), then the services answer round by
round: validated, reserved, then the payment, declined for a fraction F of the orders
(default 0.1; those release their stock and fail), then the shipment for the others.
100 events per millisecond of event time, so a round of 1,000,000 replies spans 10 s,
well within the saga's timeouts. About 4.9 events per saga at F = 0.1. With T > 0 (default
0), a fraction T of the charged orders never hear from the shipping service: their
shipment times out at the end of input, and they refund and release.
"""
import sys

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rate = 0.1
    if "--failure-rate" in sys.argv:
        rate = float(sys.argv[sys.argv.index("--failure-rate") + 1])
        args = [a for a in args if a != sys.argv[sys.argv.index("--failure-rate") + 1]]
    timeout_rate = 0.0
    if "--timeout-rate" in sys.argv:
        timeout_rate = float(sys.argv[sys.argv.index("--timeout-rate") + 1])
        args = [a for a in args if a != sys.argv[sys.argv.index("--timeout-rate") + 1]]
    n = int(args[0]) if args else 1_000_000
    out = open(args[1], "w") if len(args) > 1 else sys.stdout
    base = 1_700_000_000_000
    k = 0
    lines = []

    def emit(s):
        nonlocal k
        lines.append(s % (base + k // 100))
        k += 1
        if len(lines) >= 10000:
            out.write("".join(lines))
            lines.clear()

    # A saga fails when its (multiplicative) hash falls below the rate: spread evenly.
    def declined(i):
        return ((i * 2654435761) % 4294967296) / 4294967296 < rate

    # Spread independently of the declined ones (another multiplier).
    def unanswered(i):
        return ((i * 2246822519) % 4294967296) / 4294967296 < timeout_rate

    for i in range(n):
        emit('{"type":"order_placed","order_id":"o%d","amount":%d,"ts":%%d}\n' % (i, i % 1000))
    for i in range(n):
        emit('{"type":"order_validated","order_id":"o%d","ts":%%d}\n' % i)
    for i in range(n):
        emit('{"type":"inventory_reserved","order_id":"o%d","reservation":"r%d","ts":%%d}\n' % (i, i))
    for i in range(n):
        kind = "payment_declined" if declined(i) else "payment_charged"
        emit('{"type":"%s","order_id":"o%d","charge":"c%d","ts":%%d}\n' % (kind, i, i))
    for i in range(n):
        if not declined(i) and not unanswered(i):
            emit('{"type":"shipment_created","order_id":"o%d","ts":%%d}\n' % i)
    out.write("".join(lines))

if __name__ == "__main__":
    main()
