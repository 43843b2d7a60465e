#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# sqlite_tx: sqlite3 (through python3's module) writing one transaction per
# tick to a database file in the working directory, in WAL mode, and
# checking after each that the table holds exactly the rows 1..n with the
# right checksum.  After a restore the open database (file, WAL, shm
# mapping, locks) must carry on.
#
#   sqlite_tx.py [TARGET]
import os, sqlite3, sys, time

target = int(sys.argv[1]) if len(sys.argv) > 1 else 300
path = "sqlite-tx.%d.db" % os.getpid()
for suffix in ("", "-wal", "-shm"):
    try:
        os.unlink(path + suffix)
    except FileNotFoundError:
        pass
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
print("READY", flush=True)
for n in range(1, target + 1):
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (?, ?)", (n, "v%d" % (n * 7)))
    db.execute("COMMIT")
    count, total = db.execute("SELECT count(*), sum(n) FROM t").fetchone()
    if count != n or total != n * (n + 1) // 2:
        print("BAD after %d: %d rows, sum %s" % (n, count, total), flush=True)
        sys.exit(1)
    if db.execute("SELECT v FROM t WHERE n = ?", (n,)).fetchone()[0] != "v%d" % (n * 7):
        print("BAD row %d" % n, flush=True)
        sys.exit(1)
    print("tick %d" % n, flush=True)
    time.sleep(0.02)
db.close()
for suffix in ("", "-wal", "-shm"):
    try:
        os.unlink(path + suffix)
    except FileNotFoundError:
        pass
print("PASS", flush=True)
