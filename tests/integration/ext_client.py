#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# ext_client: a redis client OUTSIDE the computation: one connection, INCR
# after INCR, each answer checked to be the next number.  It must not see
# the server's checkpoint, kill and restore: no reset, no reconnect.
#
#   ext_client.py PORT TARGET          one INCR at a time, 20 ms apart,
#                                      "tick N" after each answer
#   ext_client.py PORT --busy STOPFILE an INCR every millisecond whether or
#                                      not answers come, "tick N" every 500
#                                      answers, until STOPFILE exists
# The busy client keeps bytes arriving while the server is frozen and
# dumped, so the server's socket is read while its peer is sending.
import os, socket, sys, threading, time
port = int(sys.argv[1])
busy = sys.argv[2] == "--busy"
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
s.settimeout(60)
INCR = b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n"

def check(n):
    r = f.readline()
    if r != b":%d\r\n" % n:
        print("BAD INCR gave %r, expected %d" % (r, n), flush=True); sys.exit(1)

if not busy:
    for n in range(1, int(sys.argv[2]) + 1):
        s.sendall(INCR); check(n)
        print("tick %d" % n, flush=True); time.sleep(0.02)
else:
    # One token per INCR sent: an answer is only waited for once asked.
    # Without Nagle, a segment per INCR, acknowledged or not.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stop, sent, done = sys.argv[3], threading.Semaphore(0), threading.Event()
    def send():
        while not os.path.exists(stop):
            s.sendall(INCR); sent.release(); time.sleep(0.001)
        done.set()
    threading.Thread(target=send, daemon=True).start()
    n = 0
    while True:
        if not sent.acquire(timeout=0.1):
            if not done.is_set():
                continue
            if not sent.acquire(blocking=False):
                break
        n += 1; check(n)
        if n % 500 == 0:
            print("tick %d" % n, flush=True)
print("PASS", flush=True)
