# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lib.sh: what the multi-host tests share.  Source it after setting WORK (a
# work directory of the test's own) and PREFIXES (the host sets to tear down);
# it sources tests/lib.sh (log, fail, wait_until, the tick helpers) and
# hosts.sh, exits 77 when hosts cannot be made here, and on exit kills the
# pids in PIDS, tears the sets down and removes WORK (unless TC_KEEP=1).

# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=hosts.sh
source "$(dirname "${BASH_SOURCE[0]}")/hosts.sh"

# shellcheck disable=SC2317  # called from the EXIT trap
mh_cleanup() {
	kill_pids KILL
	for p in ${PREFIXES:-}; do hosts_down "$p" >/dev/null 2>&1; done
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap mh_cleanup EXIT
hosts_available 2>/dev/null || { echo "SKIP: no namespace hosts here"; exit 77; }

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
	hosts_exec "$prefix" 1 ${AS[@]+"${AS[@]}"} "$TC" coordinator --listen "$addr" --secret "$SECRET" "$@" >"$log" 2>&1 &
	PIDS+=("$!")
	wait_until 10 "the coordinator" grep -q listening "$log"
}

# hosts_joined N: the coordinator (COORD, SECRET; asked from host 1 of PREFIX)
# has N hosts' supervisors.
# shellcheck disable=SC2153  # PREFIX is the test's, set before it sources this
hosts_joined() {
	[ "$(hosts_exec "$PREFIX" 1 ${AS[@]+"${AS[@]}"} "$TC" list --all-hosts --coordinator "$COORD" --secret "$SECRET" \
		2>/dev/null | grep -c .)" = "$1" ]
}

# crash_programs LIST N: a crash of the whole computation: the program of
# every supervisor named in LIST (the output of list --all-hosts; each
# program is its supervisor's child) killed with SIGKILL in one kill.
crash_programs() {
	local sup progs=()
	# shellcheck disable=SC2013  # pids, one word each
	for sup in $(sed -n 's/.*(supervisor \([0-9]*\),.*/\1/p' "$1"); do
		# shellcheck disable=SC2207
		progs+=($(pgrep -P "$sup"))
	done
	[ ${#progs[@]} = "$2" ] || fail "found ${#progs[@]} programs to kill, not $2"
	kill -KILL "${progs[@]}"
}
