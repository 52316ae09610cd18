#!/usr/bin/env python3
"""Plain-Python baseline for compare.sh: per-user windows over JSON lines on stdin.

usage: windows.py tumbling|session < events.jsonl > results.jsonl
tumbling: one-minute windows aligned to the epoch; count, sum and max of amount.
session:  30-second gap sessions (Flink semantics: sessions that touch merge, so events exactly
          30 s apart are one session; only a longer gap splits); count, sum.
One json.loads per line and a dict per key, as a hand-written script would do. Results
are written at the end of input, one JSON object per window.
"""
import json
import sys


def tumbling(lines, out):
    size = 60_000
    acc = {}
    for line in lines:
        e = json.loads(line)
        ts = e["ts"]
        k = (e["user"], ts - ts % size)
        a = acc.get(k)
        amount = e["amount"]
        if a is None:
            acc[k] = [1, amount, amount]
        else:
            a[0] += 1
            a[1] += amount
            if amount > a[2]:
                a[2] = amount
    for (user, start), (n, total, top) in sorted(acc.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        out.write(json.dumps({"user": user, "window_start": start, "window_end": start + size,
                              "n": n, "total": total, "top": top}, separators=(",", ":")) + "\n")


def session(lines, out):
    gap = 30_000
    per_user = {}
    for line in lines:
        e = json.loads(line)
        per_user.setdefault(e["user"], []).append((e["ts"], e["amount"]))
    for user, evs in per_user.items():
        evs.sort(key=lambda x: x[0])
        start = last = evs[0][0]
        n, total = 0, 0.0
        for ts, amount in evs:
            if ts - last > gap:
                out.write(json.dumps({"user": user, "window_start": start, "window_end": last + gap,
                                      "n": n, "total": total}, separators=(",", ":")) + "\n")
                start, n, total = ts, 0, 0.0
            n += 1
            total += amount
            last = ts
        out.write(json.dumps({"user": user, "window_start": start, "window_end": last + gap,
                              "n": n, "total": total}, separators=(",", ":")) + "\n")


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "tumbling"
    {"tumbling": tumbling, "session": session}[kind](sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
