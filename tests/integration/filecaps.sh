#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# filecaps.sh TRACE_CKPT STUB TCPECHO DRIVER: the install with file
# capabilities (README, "Without root").  As root: a copy of trace-ckpt and
# its stub, root's, in the layout of the build tree, the binary given the
# capabilities of the README's setcap line.  Then, as the ordinary test user:
#   - check says "mode: file capabilities" and exits 0;
#   - tcpecho through run -> dump --kill -> restore, three generations: an
#     established TCP connection, kept by TCP_REPAIR, which rootless mode
#     refuses;
#   - attach to a process of root's is refused ("belongs to uid 0");
#   - TRACE_CKPT_STUB naming a stub of the user's is not used.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
STUB=$(readlink -f "$2")
TCPECHO=$(readlink -f "$3")
DRIVER=$(readlink -f "$4")
USER_NAME=${TC_TEST_USER:-tctest}
CAPS=cap_sys_admin,cap_checkpoint_restore,cap_net_admin,cap_net_raw,cap_dac_read_search
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root to setcap"; exit 77; }
command -v setcap >/dev/null || { echo "skip: no setcap (libcap2-bin)"; exit 77; }
uid=$(id -u "$USER_NAME" 2>/dev/null) || { echo "skip: no test user $USER_NAME"; exit 77; }
gid=$(id -g "$USER_NAME")
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
as_user() {
	setpriv --reuid="$uid" --regid="$gid" --init-groups \
		env -u XDG_RUNTIME_DIR HOME="$home" USER="$USER_NAME" "$@"
}
as_user test -x "$TCPECHO" || { echo "skip: $USER_NAME cannot run $TCPECHO"; exit 77; }

WORK=$(mktemp -d /tmp/tc-filecaps.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$WORK/inst/src/cli" "$WORK/inst/src/restorer/stub" "$WORK/u"
chown "$uid:$gid" "$WORK/u"
install -m 0755 "$TC" "$WORK/inst/src/cli/trace-ckpt"
install -m 0755 "$STUB" "$WORK/inst/src/restorer/stub/trace-ckpt-stub"
setcap "$CAPS+p" "$WORK/inst/src/cli/trace-ckpt" || { echo "skip: setcap failed here"; exit 77; }
FTC=$WORK/inst/src/cli/trace-ckpt

out=$(as_user "$FTC" check 2>&1) || fail "check exited $?: $out"
grep -q '^mode: file capabilities' <<<"$out" || fail "check does not say the mode: $out"
grep -q '^TCP_REPAIR.* ok ' <<<"$out" || fail "TCP_REPAIR not available: $out"

# A stub of the user's must not be the one that runs with the capability.
printf '#!/bin/sh\ntouch "%s/u/pwned"\nexit 1\n' "$WORK" >"$WORK/u/evil-stub"
chmod 755 "$WORK/u/evil-stub"
chown "$uid:$gid" "$WORK/u/evil-stub"
(cd "$WORK/u" && as_user env TRACE_CKPT_STUB="$WORK/u/evil-stub" TC_TEST_TMPDIR="$WORK/u" \
	"$DRIVER" --tc "$FTC" --mode chain --name filecaps-tcpecho -- "$TCPECHO" -n 500 -i 20) ||
	fail "tcpecho through three generations with file capabilities"
[ ! -e "$WORK/u/pwned" ] || fail "the user's TRACE_CKPT_STUB ran with the capabilities"

sleep 3600 &
ROOTPID=$!
PIDS+=("$ROOTPID")
if out=$(cd "$WORK/u" && as_user timeout 10 "$FTC" attach "$ROOTPID" 2>&1); then
	fail "$USER_NAME attached to root's pid $ROOTPID"
fi
grep -q "belongs to uid 0; you are uid $uid" <<<"$out" || fail "no word of whose it is: $out"
echo PASS
