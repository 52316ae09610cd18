#!/usr/bin/env python3
"""Writes N JSON-lines events like the ones in the issues, deterministically.

usage: gen_events.py N [OUT] [--disorder MS]
Events: {"id":1,"type":"click","user":"u42","amount":12.5,"country":"US","ts":1700000000000}
1,000 users; timestamps advance 10 ms per event with up to --disorder ms (default 1500)
of random lateness, so event-time steps see out-of-order input.
"""
import random
import sys

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    disorder = 1500
    if "--disorder" in sys.argv:
        disorder = int(sys.argv[sys.argv.index("--disorder") + 1])
        args = [a for a in args if a != str(disorder)]
    n = int(args[0]) if args else 1_000_000
    out = open(args[1], "w") if len(args) > 1 else sys.stdout
    rng = random.Random(42)
    types = ["click", "view", "login", "purchase", "logout"]
    countries = ["US", "DE", "FR", "GB", "JP", "BR"]
    base = 1_700_000_000_000
    lines = []
    for i in range(1, n + 1):
        ts = base + i * 10 - (rng.randint(0, disorder) if disorder else 0)
        amount = rng.randint(1, 100000) / 100
        lines.append('{"id":%d,"type":"%s","user":"u%d","amount":%s,"country":"%s","ts":%d}\n' % (
            i, rng.choice(types), rng.randint(1, 1000), repr(amount), rng.choice(countries), ts))
        if len(lines) >= 10000:
            out.write("".join(lines))
            lines = []
    out.write("".join(lines))

if __name__ == "__main__":
    main()
