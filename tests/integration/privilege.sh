#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# privilege.sh TRACE_CKPT CREDCHECK: a restore never gives anyone more than
# they had.  As root, with the ordinary test user (TC_TEST_USER, default
# tctest, made by scripts/test):
#
#   1. the user runs credcheck and dumps it (--kill); root's restore refuses
#      the image, owned by the user, without --trust-owner (nothing starts);
#      with it, and the user's key (--key: the image is authenticated with
#      it), the program goes on as the user: its uid, no capabilities,
#      /etc/shadow still EACCES, the ticks continuing;
#   2. root runs credcheck and dumps it; the user, given the image, cannot
#      restore it: not with their own key (the MAC), and not with root's key
#      either ("uid 0 in the image"): nothing starts;
#   3. the user cannot attach to root's process.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
PROG=$(readlink -f "$2")
USER_NAME=${TC_TEST_USER:-tctest}
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root and the test user"; exit 77; }
uid=$(id -u "$USER_NAME" 2>/dev/null) || { echo "skip: no test user $USER_NAME"; exit 77; }
gid=$(id -g "$USER_NAME")
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
as_user() {
	setpriv --reuid="$uid" --regid="$gid" --init-groups \
		env -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME HOME="$home" USER="$USER_NAME" "$@"
}
as_user test -x "$TC" || { echo "skip: $USER_NAME cannot run $TC"; exit 77; }

WORK=$(mktemp -d /tmp/tc-privilege.XXXXXX)
chmod 755 "$WORK"
# Root's image key, of this test's own; the user's is in their home.
export XDG_CONFIG_HOME=$WORK/rootcfg
user_key=$home/.config/trace-ckpt/image.key
PIDS=()
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*/*.out "$WORK"/*/*.err; do echo "----- $f"; tail -n 5 "$f"; done
	exit 1
}
wait_until() {
	local end=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}
last_tick() { grep -E '^tick [0-9]+$' "$1" | tail -n1 | cut -d' ' -f2; }
first_tick() { grep -m1 -E '^tick [0-9]+$' "$1" | cut -d' ' -f2; }
has_tick() { [ -n "$(first_tick "$1")" ]; }
has_ticks() { local t; t=$(last_tick "$1"); [ -n "$t" ] && [ "$t" -ge "$2" ]; }
# the program running in DIR (its working directory)
prog_of() { prog_in "$1" "$PROG"; }
# the program does not run in DIR (a restore refused must start nothing)
none_in() { [ -z "$(prog_of "$1")" ]; }

# ---- 1. the user's image, restored by root
mkdir "$WORK/u" && chown "$uid:$gid" "$WORK/u"
cd "$WORK/u" || exit 1
as_user "$TC" run -- "$PROG" -n 100000 -i 20 >run.out 2>run.err </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "the user's program to tick" has_ticks run.out 5
grep -q "uid=$uid .*caps=none secret=EACCES" run.out ||
	fail "the user's program is not what it should be: $(grep -m1 creds run.out)"
as_user "$TC" dump "$(prog_of "$WORK/u")" -D "$WORK/u/img" --kill >dump.out 2>dump.err ||
	fail "the user's dump failed"
wait "$RUN"
last=$(last_tick run.out)
if "$TC" restore "$WORK/u/img" >refused.out 2>refused.err </dev/null; then
	fail "root restored an image owned by $USER_NAME without --trust-owner"
fi
grep -q "owned by uid $uid" refused.err || fail "no word of the owner: $(cat refused.err)"
none_in "$WORK/u" || fail "something runs from the refused image"
"$TC" restore --trust-owner --key "$user_key" "$WORK/u/img" >restore.out 2>restore.err </dev/null &
PIDS+=($!)
wait_until 30 "the restored program to tick" has_tick restore.out
[ "$(first_tick restore.out)" -eq $((last + 1)) ] ||
	fail "restored at tick $(first_tick restore.out), dumped at $last"
grep -m1 creds restore.out | grep -q "uid=$uid euid=$uid caps=none secret=EACCES" ||
	fail "root's restore gave the user's program more: $(grep -m1 creds restore.out)"
grep -q '^BAD' restore.out && fail "$(grep -m1 '^BAD' restore.out)"
pid=$(prog_of "$WORK/u")
{ [ -n "$pid" ] && [ "$(stat -c %u "/proc/$pid")" = "$uid" ]; } ||
	fail "the restored program does not run as uid $uid"
grep -q "^CapEff:	0000000000000000" "/proc/$pid/status" || fail "the restored program has capabilities"
kill_pids KILL

# ---- 2. root's image, restored by the user
mkdir "$WORK/r"
cd "$WORK/r" || exit 1
"$TC" run -- "$PROG" -n 100000 -i 20 >run.out 2>run.err </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "root's program to tick" has_ticks run.out 5
grep -q "uid=0 .*secret=ok" run.out || fail "root's program cannot read the secret: $(grep -m1 creds run.out)"
rootpid=$(prog_of "$WORK/r")
# ---- 3. (meanwhile) the user cannot take root's process
if as_user "$TC" attach "$rootpid" >attach.out 2>attach.err </dev/null; then
	fail "$USER_NAME attached to root's pid $rootpid"
fi
"$TC" dump "$rootpid" -D "$WORK/r/img" --kill >dump.out 2>dump.err || fail "root's dump failed"
wait "$RUN"
chown -R "$uid:$gid" "$WORK/r"
if as_user "$TC" restore "$WORK/r/img" >restore-mac.out 2>restore-mac.err </dev/null; then
	fail "$USER_NAME restored root's image with their own key"
fi
grep -q "MAC does not match" restore-mac.err ||
	fail "the refusal does not say why: $(cat restore-mac.err)"
none_in "$WORK/r" || fail "something runs from the refused image"
# Root's key given to the user: the credentials are what stops it.
install -m 600 -o "$uid" -g "$gid" "$XDG_CONFIG_HOME/trace-ckpt/image.key" "$WORK/r/root.key"
if as_user "$TC" restore --key "$WORK/r/root.key" "$WORK/r/img" >restore.out 2>restore.err </dev/null; then
	fail "$USER_NAME restored root's image"
fi
grep -q "uid 0 in the image; you are uid $uid" restore.err ||
	fail "the refusal does not say why: $(cat restore.err)"
none_in "$WORK/r" || fail "something runs from the refused image"
echo "PASS"
