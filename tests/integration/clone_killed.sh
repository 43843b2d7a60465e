#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# clone_killed.sh TRACE_CKPT BIGMEM: a leave-running dump writes from a
# copy-on-write clone of the program (a child of it, never run).  Killed
# while the image is written (as the OOM killer may choose it: it is as big
# as the program), the clone's pages are taken away and may read as zeros.
# The dump must fail, saying so, leave the previous image as it was, and
# the program must run on; a dump after that works.  And the clone lets go
# of the memory the writer has read as it goes: its resident memory falls
# under half of the program's before the dump ends.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
BIGMEM=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-clonekill.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The clone: a child of the program while a dump runs (the program forks none).
clone_of() { pgrep -P "$1" | head -n 1; }

mkdir "$WORK/cwd" && cd "$WORK/cwd" || exit 1
"$TC" run -- "$BIGMEM" -s 1G -n 100000 -i 20 -q >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 120 "ticks" has_ticks "$WORK/run.out" 3
PROG=$(prog_in "$WORK/cwd" "$BIGMEM")
[ -n "$PROG" ] || fail "no bigmem below the supervisor"
"$TC" dump "$PROG" -D "$WORK/img" >"$WORK/dump1.out" 2>&1 || fail "first dump: $(cat "$WORK/dump1.out")"
GEN1=$(sed -n 's/.*(generation \([0-9]*\),.*/\1/p' "$WORK/dump1.out")
[ -n "$GEN1" ] || fail "no generation in: $(cat "$WORK/dump1.out")"

# Writing 1 GiB takes the better part of a second: the clone is found and
# killed DELAY ms later (0: at once, while its pages are being listed;
# later: while the image is written).  A dump that ends first is tried
# again with less delay.
kill_clone_during_dump() {
	local delay=$1 try clone rc
	killed=
	for try in 1 2 3 4 5; do
		"$TC" dump "$PROG" -D "$WORK/img" >"$WORK/dump2.out" 2>&1 &
		DUMP=$!
		PIDS+=("$DUMP")
		clone=
		for _ in $(seq 500); do
			clone=$(clone_of "$PROG")
			[ -n "$clone" ] || ! alive "$DUMP" || { sleep 0.002; continue; }
			break
		done
		if [ -n "$clone" ] && [ "$delay" -gt 0 ]; then
			sleep "0.$(printf %03d "$delay")"
		fi
		[ -n "$clone" ] && kill -KILL "$clone" 2>/dev/null && killed=$clone
		wait "$DUMP"
		rc=$?
		if [ -n "$killed" ] && { [ "$rc" -ne 0 ] || [ "$delay" -eq 0 ]; }; then
			break
		fi
		log "try $try: the dump ended before its clone was killed (rc $rc); again"
		killed=
		delay=$((delay / 2))
	done
	[ -n "$killed" ] || fail "never killed the dump's clone in time"
	log "killed the clone $killed ${delay} ms into the dump's writing (rc $rc): $(cat "$WORK/dump2.out")"
	[ "$rc" -ne 0 ] || fail "the dump succeeded though its clone was killed: $(cat "$WORK/dump2.out")"
	alive "$PROG" || fail "the program died with its clone"
	"$TC" show "$WORK/img" >"$WORK/show.out" 2>&1 ||
		fail "the previous image is damaged: $(tail -n 2 "$WORK/show.out")"
	grep -q "generation $GEN1," "$WORK/show.out" ||
		fail "the image is not generation $GEN1 any more: $(head -n 1 "$WORK/show.out")"
	T=$(last_tick "$WORK/run.out")
	wait_until 60 "ticks after the failed dump" has_ticks "$WORK/run.out" $((T + 3))
	! grep -q '^BAD' "$WORK/run.out" || fail "the program: $(grep -m1 '^BAD' "$WORK/run.out")"
}
kill_clone_during_dump 0
grep -q "clone of the program was killed during the dump" "$WORK/dump2.out" ||
	fail "the dump does not say why it failed: $(cat "$WORK/dump2.out")"
kill_clone_during_dump 300
grep -q "clone of the program was killed during the dump" "$WORK/dump2.out" ||
	fail "the dump does not say why it failed: $(cat "$WORK/dump2.out")"

# The clone lets go of what the writer has read (a munmap in it, buffer by
# buffer): before the dump ends its resident memory falls under half of the
# program's.  Without that it holds every page of the program to the end.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
clone_lets_go() {
	local try clone prog_rss rss least
	for try in 1 2 3 4 5; do
		prog_rss=$(rss_kib "$PROG")
		"$TC" dump "$PROG" -D "$WORK/img" >"$WORK/dump-go.out" 2>&1 &
		DUMP=$!
		PIDS+=("$DUMP")
		clone=''
		least=''
		while alive "$DUMP"; do
			clone=${clone:-$(clone_of "$PROG")}
			rss=${clone:+$(rss_kib "$clone")}
			if [ -n "$rss" ] && { [ -z "$least" ] || [ "$rss" -lt "$least" ]; }; then
				least=$rss
			fi
			sleep 0.01
		done
		wait "$DUMP" || fail "the dump: $(cat "$WORK/dump-go.out")"
		if [ -n "$least" ]; then
			log "try $try: the clone's resident memory fell to $least KiB (the program's: $prog_rss KiB)"
			[ "$least" -lt $((prog_rss / 2)) ] && return 0
		fi
	done
	fail "the clone kept the program's memory to the end of the dump (least ${least:-?} KiB of $prog_rss)"
}
clone_lets_go

"$TC" dump "$PROG" -D "$WORK/img" >"$WORK/dump3.out" 2>&1 || fail "the dump after: $(cat "$WORK/dump3.out")"
log "and after: $(cat "$WORK/dump3.out")"
[ -z "$(clone_of "$PROG")" ] || fail "a clone is left under the program: $(clone_of "$PROG")"
log "PASS"
