#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# coord_local.sh TRACE_CKPT COUNTER: a computation of one host under a
# coordinator on loopback: run --coordinator (which puts the ssh trap, a
# seccomp filter, on the program), dump --all-hosts --kill, restore
# --all-hosts: the count goes on from where it was, under the coordinator
# again.  Works as root and as an ordinary user (whose dump cannot read
# seccomp filters from the kernel, and knows the trap's without looking).
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
PROG=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-coord-local.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

cd "$WORK" || exit 1
head -c 32 /dev/urandom >secret
chmod 600 secret
# A free port: the kernel's choice, taken back and given to the coordinator.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$port
"$TC" coordinator --listen "$ADDR" --secret "$WORK/secret" >coord.out 2>coord.err </dev/null &
PIDS+=($!)
wait_until 20 "the coordinator" "$TC" status --coordinator "$ADDR" --secret "$WORK/secret"
"$TC" run --coordinator "$ADDR" --secret "$WORK/secret" -- "$PROG" -n 100000 -i 20 \
	>run.out 2>run.err </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "the program's ticks" has_ticks run.out 5
prog=
for f in /proc/[0-9]*/cwd; do
	p=${f#/proc/}
	p=${p%/cwd}
	[ "$(readlink "$f" 2>/dev/null)" = "$WORK" ] &&
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$PROG" ] && prog=$p
done
[ -n "$prog" ] || fail "the program is not found"
grep -q '^Seccomp_filters:[[:space:]]*1$' "/proc/$prog/status" ||
	fail "the program has no seccomp filter (the ssh trap): $(grep Seccomp "/proc/$prog/status")"
"$TC" dump --all-hosts --coordinator "$ADDR" --secret "$WORK/secret" -D "$WORK/img" --kill \
	>dump.out 2>dump.err || fail "dump --all-hosts failed"
wait "$RUN"
last=$(last_tick run.out)
"$TC" restore --all-hosts --coordinator "$ADDR" --secret "$WORK/secret" "$WORK/img" \
	>restore.out 2>restore.err </dev/null &
PIDS+=($!)
wait_until 30 "the restored program's ticks" has_ticks restore.out $((last + 5))
[ "$(first_tick restore.out)" -eq $((last + 1)) ] ||
	fail "restored at tick $(first_tick restore.out), dumped at $last"
grep -q '^BAD' restore.out && fail "$(grep -m1 '^BAD' restore.out)"
echo "PASS: dumped at tick $last, went on from $((last + 1))"
