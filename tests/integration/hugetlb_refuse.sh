#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hugetlb_refuse.sh TRACE_CKPT: hugetlb memory other than private anonymous
# is refused by name at dump time, the program running on:
#   - MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB (seen in /proc/PID/maps);
#   - a memfd made with MFD_HUGETLB (seen in smaps: read while frozen for
#     dump --kill, in the program's clone after the thaw for a dump that
#     leaves it running), and one only held by an fd, not mapped.
# Each program prints READY once its memory is mapped and touched, then
# waits; after the refused dump it must still be there and say ALIVE.
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
says() { grep -q "$2" "$1" 2>/dev/null; }

# one_case NAME DUMP-ARG PYTHON-SETUP EXPECTED-MESSAGE
one_case() {
	local name=$1 how=$2 setup=$3 want=$4 sup pid out
	mkfifo "$WORK/$name.in"
	printf 'import mmap, os, sys\n%s\nprint("READY", flush=True)\nsys.stdin.readline()\nprint("ALIVE", m[0], flush=True)\n' \
		"$setup" >"$WORK/$name.py"
	"$TC" run -- "$PY" "$WORK/$name.py" <"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	sup=$!
	PIDS+=("$sup")
	exec 9>"$WORK/$name.in"
	wait_until 20 "$name: READY" says "$WORK/$name.out" '^READY$'
	pid=$("$TC" list | awk -v s="(supervisor $sup," 'index($0, s) { print $1 }')
	[ -n "$pid" ] || fail "$name: supervisor $sup not listed"
	if out=$("$TC" dump "$pid" -D "$WORK/$name.img" "$how" 2>&1); then
		fail "$name: the dump was not refused: $out"
	fi
	grep -q -- "$want" <<<"$out" || fail "$name: expected '$want', got: $out"
	[ ! -e "$WORK/$name.img" ] || fail "$name: an image was left"
	echo >&9
	exec 9>&-
	wait_until 20 "$name: the program going on (ALIVE 7)" says "$WORK/$name.out" '^ALIVE 7$'
	log "$name: $out"
}

shared='m = mmap.mmap(-1, 2 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS | 0x40000); m[0] = 7'
# Mapped by libc's mmap and the fd closed: Python's mmap keeps a dup of it.
memfd='import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.memfd_create("tc-huge", os.MFD_HUGETLB); os.ftruncate(fd, 2 << 20)
p = libc.mmap(None, 2 << 20, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
assert p not in (None, 2 ** 64 - 1)
os.close(fd)
m = (ctypes.c_ubyte * 1).from_address(p); m[0] = 7'
one_case shared "--leave-running" "$shared" 'shared hugetlb memory (MAP_SHARED|MAP_HUGETLB)'
one_case shared-kill "--kill" "$shared" 'shared hugetlb memory (MAP_SHARED|MAP_HUGETLB)'
one_case memfd "--leave-running" "$memfd" 'hugetlb memory other than private anonymous'
one_case memfd-kill "--kill" "$memfd" 'hugetlb memory other than private anonymous'
one_case memfd-fd "--kill" 'fd = os.memfd_create("tc-huge", os.MFD_HUGETLB); m = [7]' \
	'fd [0-9]*: /memfd:tc-huge: a MFD_HUGETLB memfd: not supported'
echo PASS
