# SPDX-License-Identifier: GPL-2.0-or-later
#
# lib.sh: what the multi-host tests share.  Source it after setting WORK (a
# work directory of the test's own) and PREFIXES (the host sets to tear down);
# it sources hosts.sh, exits 77 when hosts cannot be made here, and on exit
# kills the pids in PIDS, tears the sets down and removes WORK (unless
# TC_KEEP=1).

# shellcheck source=hosts.sh
source "$(dirname "${BASH_SOURCE[0]}")/hosts.sh"

PIDS=()

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }

# Say what failed, with the end of every output of the test, and stop.
fail() {
	log "FAIL: $*"
	for f in "$WORK"/*.out "$WORK"/*.err "$WORK"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f (last 12 lines)"
		tail -n 12 "$f"
	done
	exit 1
}

mh_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in ${PREFIXES:-}; do hosts_down "$p" >/dev/null 2>&1; done
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap mh_cleanup EXIT
hosts_available 2>/dev/null || { echo "SKIP: no namespace hosts here"; exit 77; }

# wait_for S WHAT CMD...: until CMD succeeds, or fail after S seconds
# (polling, no fixed sleeps).
wait_for() {
	local s=$1 what=$2
	shift 2
	local end=$((SECONDS + s))
	until "$@"; do
		[ $SECONDS -lt $end ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}

last_tick() { grep -a '^tick ' "$1" 2>/dev/null | tail -n 1 | cut -d' ' -f2; }
has_ticks() { local t; t=$(last_tick "$1"); [ -n "$t" ] && [ "$t" -ge "$2" ]; }

# ticks_from FILE FIRST WHAT: the tick lines of FILE (after its first SKIP
# of them, default 0) count up by one from FIRST; no BAD line after them.
ticks_from() {
	local file=$1 first=$2 what=$3 skip=${4:-0}
	grep -a '^tick ' "$file" | tail -n +$((skip + 1)) | awk -v f="$first" -v what="$what" '
		{ if ($2 != f + NR - 1) { printf "%s: tick %s where %d was due\n", what, $2, f + NR - 1; bad = 1; exit } }
		END { exit bad }' || fail "$what: ticks not consecutive"
}

# up PREFIX N OCTET: a set of hosts, once more after a teardown if need be
# (a set of the same name may still be going away).
up() {
	hosts_up "$1" "$2" "$3" >>"$WORK/hosts.log" 2>&1 ||
		{ hosts_down "$1" >/dev/null 2>&1; hosts_up "$1" "$2" "$3" >>"$WORK/hosts.log" 2>&1; } ||
		fail "cannot bring up $2 hosts $1: $(tail -3 "$WORK/hosts.log")"
}

# start_coordinator PREFIX ADDR LOG [ARGS...]: on host 1 of the set, with SECRET.
start_coordinator() {
	local prefix=$1 addr=$2 log=$3
	shift 3
	hosts_exec "$prefix" 1 "$TC" coordinator --listen "$addr" --secret "$SECRET" "$@" >"$log" 2>&1 &
	PIDS+=($!)
	wait_for 10 "the coordinator" grep -q listening "$log"
}

# hosts_joined N: the coordinator (COORD, SECRET; asked from host 1 of PREFIX)
# has N hosts' supervisors.
hosts_joined() {
	[ "$(hosts_exec "$PREFIX" 1 "$TC" list --all-hosts --coordinator "$COORD" --secret "$SECRET" \
		2>/dev/null | grep -c .)" = "$1" ]
}

# crash_programs LIST N: a crash of the whole computation: the program of
# every supervisor named in LIST (the output of list --all-hosts; each
# program is its supervisor's child) killed with SIGKILL in one kill.
crash_programs() {
	local sup progs=()
	for sup in $(sed -n 's/.*(supervisor \([0-9]*\),.*/\1/p' "$1"); do
		# shellcheck disable=SC2207
		progs+=($(pgrep -P "$sup"))
	done
	[ ${#progs[@]} = "$2" ] || fail "found ${#progs[@]} programs to kill, not $2"
	kill -KILL "${progs[@]}"
}
