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

# as_user_authorize USER PREFIX: the key of as_user_setup, on another host set.
as_user_authorize() {
	local state
	state=$(hosts_state "$2")
	cp "$WORK/user_key.pub" "$state/authorized_keys_$1" || fail "authorizing $1 on $2"
	# sshd reads it as the user: the state directory (0700) is traversed, not listed.
	chmod 0711 "$state"
}

# as_user_setup USER PREFIX...: from here every trace-ckpt command of the test
# runs as USER (prefix them with ${AS[@]+"${AS[@]}"}): WORK becomes the user's,
# the user gets an ssh key of its own, authorized on the host sets named (per
# user: no key to root), and an ssh in its PATH ($WORK/ubin/ssh) that uses it.
# Skips (77) when the user is missing or locked.
as_user_setup() {
	local user=$1 prefix state home
	shift
	id -u "$user" >/dev/null 2>&1 || { log "skip: no user $user (scripts/test makes tctest)"; exit 77; }
	# sshd without PAM lets no key into a locked account (scripts/test unlocks tctest).
	case $(getent shadow "$user" | cut -d: -f2) in
	'!'*) log "skip: the account $user is locked ('!' in shadow): ssh cannot log it in"; exit 77 ;;
	esac
	mkdir -p "$WORK/ubin"
	ssh-keygen -q -t ed25519 -N '' -C "$user" -f "$WORK/user_key" || fail "ssh-keygen"
	for prefix in "$@"; do as_user_authorize "$user" "$prefix"; done
	sed -e "s|User root|User $user|" -e "s|IdentityFile .*|IdentityFile $WORK/user_key|" \
		"$(hosts_state "$1")/ssh_config" >"$WORK/user_ssh_config"
	printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$WORK/user_ssh_config" >"$WORK/ubin/ssh"
	chmod 0755 "$WORK/ubin/ssh"
	chown -R "$user:" "$WORK"
	chmod 0755 "$WORK"
	home=$(getent passwd "$user" | cut -d: -f6)
	AS=(setpriv --reuid="$user" --regid="$user" --init-groups
	    env -u XDG_RUNTIME_DIR HOME="$home" PATH="$WORK/ubin:$PATH")
	log "every trace-ckpt command runs as $user"
}
