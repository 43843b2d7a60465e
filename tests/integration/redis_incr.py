#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# redis_incr: a redis-server (Debian's) and a client, both in the computation,
# over TCP on 127.0.0.1.  The client keeps INCRementing one key and checks
# each answer is the next number; a tick is one INCR.  After a restore the
# connection and the server's memory must carry on: INCR answers n + 1.
#
#   redis_incr.py [TARGET]
import os, socket, subprocess, sys, time
n_target = int(sys.argv[1]) if len(sys.argv) > 1 else 300
port = 20000 + os.getpid() % 20000
srv = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                        "--bind", "127.0.0.1", "--daemonize", "no", "--logfile", ""],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 10
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        if time.time() > deadline: print("BAD redis did not start", flush=True); sys.exit(1)
        time.sleep(0.05)
f = s.makefile("rb")
def cmd(*a):
    s.sendall(("*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a)).encode())
    line = f.readline()
    return line
print("READY", flush=True)
for n in range(1, n_target + 1):
    r = cmd("INCR", "ticks")
    if r != b":%d\r\n" % n:
        print("BAD INCR gave %r, expected %d" % (r, n), flush=True); sys.exit(1)
    print("tick %d" % n, flush=True)
    time.sleep(0.02)
cmd("SHUTDOWN", "NOSAVE")
srv.wait()
print("PASS", flush=True)
