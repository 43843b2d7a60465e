#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# manyfds: a process holding about 10,000 fds of mixed kinds -- files at
# offsets, pipes with bytes in them, eventfds with counters, socketpairs with
# messages queued -- and checking a sample of them every tick.  Used by
# scripts/bench (dump and restore time of 10,000 fds) and as a test.
#
#   manyfds.py [TARGET] [SCALE]     SCALE 1: 9,504 fds
import os, resource, socket, sys, tempfile, time

target = int(sys.argv[1]) if len(sys.argv) > 1 else 300
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
d = tempfile.mkdtemp(prefix="tc-manyfds.", dir=".")
files, pipes, evs, socks = [], [], [], []
for i in range(int(3000 * scale)):
    fd = os.open("%s/f%d" % (d, i), os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b"x" * (i % 97))
    files.append((fd, i % 97))
for i in range(int(1500 * scale)):
    r, w = os.pipe()
    os.write(w, b"p%06d" % i)
    pipes.append((r, w, i))
for i in range(int(1500 * scale)):
    evs.append((os.eventfd(i + 1, os.EFD_NONBLOCK), i + 1))
for i in range(int(1000 * scale)):
    a, b = socket.socketpair()
    a.send(b"s%06d" % i)
    socks.append((a, b, i))
print("fds %d" % len(os.listdir("/proc/self/fd")), flush=True)
print("READY", flush=True)
for n in range(1, target + 1):
    k = n * 7
    fd, off = files[k % len(files)]
    if os.lseek(fd, 0, os.SEEK_CUR) != off:
        print("BAD file %d offset" % (k % len(files)), flush=True); sys.exit(1)
    r, w, i = pipes[k % len(pipes)]
    got = os.read(r, 7)
    if got != b"p%06d" % i:
        print("BAD pipe %d: %r" % (i, got), flush=True); sys.exit(1)
    os.write(w, got)
    e, v = evs[k % len(evs)]
    got = int.from_bytes(os.read(e, 8), "little")
    if got != v:
        print("BAD eventfd %d: %d" % (v, got), flush=True); sys.exit(1)
    os.write(e, v.to_bytes(8, "little"))
    a, b, i = socks[k % len(socks)]
    got = b.recv(7)
    if got != b"s%06d" % i:
        print("BAD socket %d: %r" % (i, got), flush=True); sys.exit(1)
    a.send(got)
    print("tick %d" % n, flush=True)
    time.sleep(0.02)
for i in range(len(files)):
    os.unlink("%s/f%d" % (d, i))
os.rmdir(d)
print("PASS", flush=True)
