#!/usr/bin/env python3
"""Plain-Python baseline for compare.sh: a login, then a purchase with amount > 400
within 10 s, per user, in event-time order (equal times in arrival order).

usage: pattern.py < events.jsonl > matches.jsonl
Semantics as Sluice's pattern step with relaxed contiguity and skip past_last: every
login opens a partial match; a qualifying purchase less than 10 s after the earliest
open login completes it, and every other open partial match is discarded.
"""
import json
import sys

WITHIN = 10_000


def main():
    per_user = {}
    for i, line in enumerate(sys.stdin):
        e = json.loads(line)
        t = e["type"]
        if t == "login" or (t == "purchase" and e["amount"] > 400.0):
            per_user.setdefault(e["user"], []).append((e["ts"], i, e))
    out = sys.stdout
    for user, evs in per_user.items():
        evs.sort(key=lambda x: (x[0], x[1]))
        open_logins = []
        for ts, _, e in evs:
            if e["type"] == "login":
                open_logins.append(e)
                continue
            # A purchase: drop partial matches that timed out, complete the earliest.
            open_logins = [l for l in open_logins if ts - l["ts"] < WITHIN]
            if open_logins:
                login = open_logins[0]
                out.write(json.dumps({"user": user, "login_ts": login["ts"], "buy_ts": ts,
                                      "amount": e["amount"]}, separators=(",", ":")) + "\n")
                open_logins = []


if __name__ == "__main__":
    main()
