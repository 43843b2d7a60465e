#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# sessions: a child that starts a session of its own (setsid) and a
# grandchild that leads a process group in it; the grandchild reports its
# pid, sid and pgid through a pipe every tick, and they must never change.
#
#   sessions.py [TARGET]
import os, sys, time

target = int(sys.argv[1]) if len(sys.argv) > 1 else 300
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.setsid()
    g = os.fork()
    if g == 0:
        os.setpgid(0, 0)
        while True:
            os.write(w, b"%d %d %d %d\n" % (os.getpid(), os.getsid(0), os.getpgid(0), os.getppid()))
            time.sleep(0.02)
    while True:
        time.sleep(1)
os.close(w)
f = os.fdopen(r)
first = None
print("READY", flush=True)
for n in range(1, target + 1):
    got = tuple(map(int, f.readline().split()))
    if len(got) != 4:
        print("BAD grandchild gone", flush=True)
        sys.exit(1)
    if first is None:
        first = got
        g_pid, g_sid, g_pgid, g_ppid = got
        if g_sid != g_ppid or g_pgid != g_pid or g_sid == os.getsid(0):
            print("BAD setup: %r" % (got,), flush=True)
            sys.exit(1)
    if got != first:
        print("BAD pid/sid/pgid/ppid %r, was %r" % (got, first), flush=True)
        sys.exit(1)
    print("tick %d" % n, flush=True)
os.killpg(first[2], 9)
os.kill(pid, 9)
os.waitpid(pid, 0)
print("PASS", flush=True)
