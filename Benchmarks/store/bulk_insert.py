#!/usr/bin/env python3
"""The ceiling for Benchmarks/store.sh: a plain SQLite bulk insert of the same rows into
the same table layout as Sluice's store (docs/event-sourcing.md, "Table layout"), and a
plain read of them back, with Python's sqlite3 (the same libsqlite3) and the store's
pragmas: WAL, synchronous=NORMAL, a 64 MB page cache, wal_autocheckpoint=8192.

usage: bulk_insert.py EVENTS.jsonl DB       prints "insert SECONDS" and "read SECONDS"
Per-stream versions are counted in Python (as the store assigns them); each transaction
holds the events of one 64 KB read of the file (about 720 events), like the store
output's batches, and ends by writing the versions of the streams it appended to into
sluice_streams, as the store does.
"""
import json
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE sluice_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
    event_time INTEGER NOT NULL, data TEXT NOT NULL, appended_at INTEGER NOT NULL);
CREATE TABLE sluice_streams (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX events_stream ON events (position / 8192, stream_id);
CREATE INDEX events_event_time ON events (event_time);
INSERT INTO sluice_store (key, value) VALUES ('layout', 'sluice-events-2'), ('streams_at', 0);
"""
INSERT = ("INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data,"
          " appended_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)")
STREAMS = ("INSERT INTO sluice_streams (stream_id, version) VALUES (?, ?)"
           " ON CONFLICT (stream_id) DO UPDATE SET version = MAX(version, excluded.version)")
CHUNK = 64 << 10


def commit(c, rows, last):
    """Appends rows as one transaction; `last` is the position its last row gets."""
    c.execute("BEGIN")
    c.executemany(INSERT, rows)
    changed = {}
    for r in rows:
        changed[r[0]] = r[1]
    c.executemany(STREAMS, list(changed.items()))
    c.execute("UPDATE sluice_store SET value = ? WHERE key = 'streams_at'", (last,))
    c.execute("COMMIT")


def main():
    src, db = sys.argv[1], sys.argv[2]
    lines = open(src, "rb").read().splitlines()
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=NORMAL")
    c.execute("PRAGMA cache_size=-65536")
    c.execute("PRAGMA wal_autocheckpoint=8192")
    c.executescript(SCHEMA)
    start = time.perf_counter()
    versions = {}
    now = int(time.time() * 1000)
    rows = []
    size = 0
    position = 0
    for line in lines:
        e = json.loads(line)
        stream = e["user"]
        v = versions.get(stream, 0) + 1
        versions[stream] = v
        rows.append((stream, v, str(e["id"]), e["type"], e.get("ts", now), line.decode(), now))
        size += len(line) + 1
        position += 1
        if size >= CHUNK:
            commit(c, rows, position)
            rows = []
            size = 0
    if rows:
        commit(c, rows, position)
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
