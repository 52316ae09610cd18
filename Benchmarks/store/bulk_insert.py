#!/usr/bin/env python3
"""The ceiling for Benchmarks/store.sh: a plain SQLite bulk insert of the same rows into
the same table layout as Sluice's store (docs/event-sourcing.md), and a plain read of
them back, with Python's sqlite3 (the same libsqlite3), WAL and synchronous=NORMAL.

usage: bulk_insert.py EVENTS.jsonl DB       prints "insert SECONDS" and "read SECONDS"
Per-stream versions are counted in Python (as the store assigns them); the insert runs
in batches of 2048 rows per transaction, like the store output's batches.
"""
import json
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
    event_time INTEGER NOT NULL, data TEXT NOT NULL, appended_at INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version));
CREATE INDEX events_event_time ON events (event_time);
"""


def main():
    src, db = sys.argv[1], sys.argv[2]
    lines = open(src, "rb").read().splitlines()
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=NORMAL")
    c.executescript(SCHEMA)
    start = time.perf_counter()
    versions = {}
    now = int(time.time() * 1000)
    rows = []
    sql = ("INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data,"
           " appended_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)")
    for line in lines:
        e = json.loads(line)
        stream = e["user"]
        v = versions.get(stream, 0) + 1
        versions[stream] = v
        rows.append((stream, v, str(e["id"]), e["type"], e.get("ts", now), line.decode(), now))
        if len(rows) == 2048:
            c.execute("BEGIN")
            c.executemany(sql, rows)
            c.execute("COMMIT")
            rows = []
    if rows:
        c.execute("BEGIN")
        c.executemany(sql, rows)
        c.execute("COMMIT")
    insert = time.perf_counter() - start
    start = time.perf_counter()
    n = 0
    for (data,) in c.execute("SELECT data FROM events ORDER BY position"):
        n += len(data)
    read = time.perf_counter() - start
    print("insert %.3f" % insert)
    print("read %.3f" % read)


if __name__ == "__main__":
    main()
