#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hugetlb_refuse.sh TRACE_CKPT: hugetlb memory other than private anonymous
# is refused by name at dump time, the program running on:
#   - MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB (seen in /proc/PID/maps);
#   - a memfd made with MFD_HUGETLB (seen in smaps: read while frozen for
#     dump --kill, in the program's clone after the thaw for a dump that
#     leaves it running), and one only held by an fd, not mapped.
# Each program (refused_dump, tests/lib.sh) maps and touches its memory;
# after the refused dump it must still be there, its byte still 7.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
PY=$(command -v python3) || { echo "skip: no python3"; exit 77; }
WORK=$(mktemp -d "${TC_TEST_TMPDIR:-/tmp}/tc-hugetlbrefuse.XXXXXX")
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
shared='import mmap
m = mmap.mmap(-1, 2 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS | 0x40000); m[0] = 7'
# Mapped by libc's mmap and the fd closed: Python's mmap keeps a dup of it.
memfd='import ctypes, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.memfd_create("tc-huge", os.MFD_HUGETLB); os.ftruncate(fd, 2 << 20)
p = libc.mmap(None, 2 << 20, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
assert p not in (None, 2 ** 64 - 1)
os.close(fd)
m = (ctypes.c_ubyte * 1).from_address(p); m[0] = 7'
after='assert m[0] == 7, m[0]'
refused_dump shared --leave-running "$shared" 'shared hugetlb memory (MAP_SHARED|MAP_HUGETLB)' "$after"
refused_dump shared-kill --kill "$shared" 'shared hugetlb memory (MAP_SHARED|MAP_HUGETLB)' "$after"
refused_dump memfd --leave-running "$memfd" 'hugetlb memory other than private anonymous' "$after"
refused_dump memfd-kill --kill "$memfd" 'hugetlb memory other than private anonymous' "$after"
refused_dump memfd-fd --kill 'import os
fd = os.memfd_create("tc-huge", os.MFD_HUGETLB)' \
	'fd [0-9]*: /memfd:tc-huge: a MFD_HUGETLB memfd: not supported'
echo PASS
