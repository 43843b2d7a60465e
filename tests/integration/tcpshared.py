#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# tcpshared: one TCP connection on 127.0.0.1 whose two ends are both held
# by two processes (made before a fork; its listener closed since): the
# child writes numbered lines into one end, the parent reads and checks
# them from the other, a tick every two lines.  Each socket has an fd in
# both processes: it must be kept once and shared again after a restore.
#
#   tcpshared.py [TARGET]
import os, socket, sys, time

target = int(sys.argv[1]) if len(sys.argv) > 1 else 300


def out(line):
    os.write(1, (line + "\n").encode())


lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(1)
conn = socket.create_connection(lst.getsockname())
acc, _ = lst.accept()
lst.close()
child = os.fork()
if child == 0:
    for i in range(1, 2 * target + 100):
        conn.sendall(b"%08d\n" % i)
        time.sleep(0.01)
    os._exit(0)
out("READY")
lines = acc.makefile("rb")
for i in range(1, 2 * target + 1):
    line = lines.readline()
    if line != b"%08d\n" % i:
        out("BAD line %r, expected %d" % (line, i))
        sys.exit(1)
    if i % 2 == 0:
        out("tick %d" % (i // 2))
os.kill(child, 9)
os.waitpid(child, 0)
out("PASS")
