#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# userns_off.sh TRACE_CKPT: where user namespaces are switched off, check
# and every command that needs one say so in one line, naming the sysctl
# and the alternative (file capabilities), and start nothing.  The switch
# is thrown inside a user namespace of the test's own (user.max_user_namespaces
# = 0 there), so the machine is untouched.
set -u
TC=$(readlink -f "$1")
command -v unshare >/dev/null || { echo "skip: no unshare"; exit 77; }
unshare -r true 2>/dev/null || { echo "skip: no user namespaces here at all"; exit 77; }
WORK=$(mktemp -d /tmp/tc-userns-off.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
# shellcheck disable=SC2016  # expanded by the inner shell
unshare -r sh -c '
	echo 0 >/proc/sys/user/max_user_namespaces || exit 77
	"$0" run -- sh -c "echo RAN" >run.out 2>run.err; echo $? >run.rc
	mkdir img
	"$0" restore img >restore.out 2>restore.err; echo $? >restore.rc
	"$0" check >check.out 2>&1; echo $? >check.rc
' "$TC"
rc=$?
[ "$rc" -eq 77 ] && { echo "skip: cannot set user.max_user_namespaces here"; exit 77; }
fail() { echo "FAIL: $*"; tail -n 5 "$WORK"/*.out "$WORK"/*.err; exit 1; }
want='user namespaces are switched off here (sysctl user.max_user_namespaces=0)'
[ "$(cat run.rc)" -ne 0 ] || fail "run exited 0"
grep -q RAN run.out && fail "run started the program"
[ "$(wc -l <run.err)" -eq 1 ] || fail "run said more than one line: $(cat run.err)"
grep -qF "$want" run.err || fail "run does not say why: $(cat run.err)"
grep -qF 'file capabilities' run.err || fail "run names no alternative: $(cat run.err)"
[ "$(cat restore.rc)" -ne 0 ] || fail "restore exited 0"
grep -qF "$want" restore.err || fail "restore does not say why: $(cat restore.err)"
[ "$(cat check.rc)" -ne 0 ] || fail "check exited 0"
grep -qE '^user namespaces +MISSING' check.out || fail "check does not list it: $(cat check.out)"
grep -qF "$want" check.out || fail "check does not say why: $(cat check.out)"
echo PASS
