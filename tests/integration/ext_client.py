#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# ext_client: a redis client OUTSIDE the computation: one connection, INCR
# after INCR, each answer checked to be the next number.  It must not see
# the server's checkpoint, kill and restore: no reset, no reconnect.
#
#   ext_client.py PORT TARGET
import socket, sys, time
port = int(sys.argv[1]); n_target = int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
s.settimeout(60)
for n in range(1, n_target + 1):
    s.sendall(b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")
    r = f.readline()
    if r != b":%d\r\n" % n:
        print("BAD INCR gave %r, expected %d" % (r, n), flush=True); sys.exit(1)
    print("tick %d" % n, flush=True); time.sleep(0.02)
print("PASS", flush=True)
