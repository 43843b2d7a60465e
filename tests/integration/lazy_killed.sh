#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lazy_killed.sh TRACE_CKPT BIGMEM: the supervisor of a restore --lazy killed
# (SIGKILL) at the program's first tick, while most of its 1 GiB is still to
# come: the page server, a process of its own, serves on, and the program
# goes on to PASS -- whose final check reads every page; then the server,
# with nothing left to serve and nobody to answer, ends.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
BIGMEM=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-lazy-killed.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
"$TC" run -- "$BIGMEM" -s 1G -a 16M -n 60 -i 50 >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 120 "ticks" has_ticks "$WORK/run.out" 3
P=$(prog_in "$WORK" "$BIGMEM")
[ -n "$P" ] || fail "no bigmem"
"$TC" dump "$P" -D "$WORK/img" --kill >/dev/null || fail "dump --kill"
wait "$RUN"
LAST=$(last_tick "$WORK/run.out")

"$TC" restore --lazy "$WORK/img" >"$WORK/restore.out" 2>"$WORK/restore.err" </dev/null &
RESTORE=$!
PIDS+=("$RESTORE")
wait_until 60 "the first tick" has_tick "$WORK/restore.out"
SERVER=$(pgrep -P "$RESTORE" -x tc-lazy-pages)
[ -n "$SERVER" ] || fail "no page server below restore $RESTORE"
PIDS+=("$SERVER")
kill -KILL "$RESTORE"
wait "$RESTORE" 2>/dev/null
P=$(prog_in "$WORK" "$BIGMEM")
[ -n "$P" ] || fail "the program died with its supervisor: $(tail -n 3 "$WORK/restore.out")"
PIDS+=("$P")
echo "supervisor killed at tick $(last_tick "$WORK/restore.out"); program pid $P runs on"
wait_until 120 "PASS" has_pass "$WORK/restore.out"
if grep -q '^BAD' "$WORK/restore.out"; then
	fail "$(grep -m1 '^BAD' "$WORK/restore.out")"
fi
# Every page in, nobody left to ask: the server ends too.
wait_until 30 "the page server $SERVER to end" eval "! alive $SERVER"
FIRST=$(first_tick "$WORK/restore.out")
[ "$FIRST" = $((LAST + 1)) ] || fail "restored at tick $FIRST, expected $((LAST + 1))"
echo PASS
