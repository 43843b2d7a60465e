#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# nested_inside.sh TRACE_CKPT COUNTER: what the refusal of nested namespaces
# advises works.  trace-ckpt started inside a sandbox's namespaces (unshare
# --user --map-current-user --mount --pid --fork --mount-proc) supervises a
# program there; a dump --kill and a restore, both from inside the sandbox,
# go on from the tick where it stopped and reach PASS.  Run as an ordinary
# user (tests/as_user.sh): root mapped to root there would give its program
# every capability of the sandbox, which a restore inside refuses by name.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
PROG=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-nested.XXXXXX)
trap 'kill_pids KILL; [ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
unshare --user --map-current-user --mount --pid --fork --mount-proc true 2>/dev/null || {
	echo "SKIP: unshare of user, mount and pid namespaces is refused here"
	exit 77
}
# The whole scenario inside one sandbox: its pids are the sandbox's.
cat >inside.sh <<'SH'
set -u
TC=$1 PROG=$2
"$TC" run --dir img -- "$PROG" -n 300 -i 20 >run.out 2>run.err </dev/null &
run=$!
for _ in $(seq 300); do grep -q '^tick 5$' run.out 2>/dev/null && break; sleep 0.02; done
"$TC" dump --kill >dump.out 2>&1 || { echo "dump failed: $(cat dump.out)"; exit 1; }
wait "$run"
echo "run exited $?"
timeout 60 "$TC" restore img >restore.out 2>restore.err </dev/null
echo "restore exited $?"
SH
timeout 120 unshare --user --map-current-user --mount --pid --fork --mount-proc \
	bash inside.sh "$TC" "$PROG" >inside.out 2>&1 </dev/null &
PIDS+=($!)
wait "${PIDS[-1]}"
grep -q '^run exited 137$' inside.out || fail "run inside the sandbox: $(cat inside.out)"
grep -q '^restore exited 0$' inside.out || fail "restore inside the sandbox: $(cat inside.out; tail -3 restore.err)"
! grep -q '^BAD' run.out restore.out || fail "$(grep -h -m1 '^BAD' run.out restore.out)"
has_pass restore.out || fail "the restored program did not reach PASS"
l=$(last_tick run.out)
f=$(first_tick restore.out)
[ "$f" -eq $((l + 1)) ] || fail "last tick before the dump $l, first after the restore $f"
echo "ok: dumped at tick $l inside the sandbox, restored there from tick $f to PASS"
