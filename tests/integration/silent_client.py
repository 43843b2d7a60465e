#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""silent_client.py SUPERVISOR_PID [COUNT]: connect COUNT times (default 1) to
the control socket the supervisor listens on, send nothing, and hold the
connections until killed, or for at most 120 s.  Prints "connected N PATH" once
every connection is established: from then on the supervisor has them in its
backlog or accepted.

The socket is found from the supervisor's own fds and /proc/net/unix, not
from a directory name, so the test does not depend on where it lives."""
import os
import select
import socket
import sys


def socket_inodes(pid):
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def listening_path(pid):
    inodes = socket_inodes(pid)
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]
            if len(fields) < 8 or fields[6] not in inodes:
                continue
            flags = int(fields[3], 16)
            if flags & 0x10000 and fields[7].endswith(".sock"):   # __SO_ACCEPTCON
                return fields[7]
    return None


def main():
    pid = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    path = listening_path(pid)
    if path is None:
        print("BAD no listening control socket for pid %d" % pid, flush=True)
        return 1
    conns = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        conns.append(s)
    print("connected %d %s" % (count, path), flush=True)
    # Silent until killed, or a generous deadline.
    select.select([], [], [], 120)
    for s in conns:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
