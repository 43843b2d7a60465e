#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# as_user.sh CMD ARGS...: run a test as the ordinary test user, for the
# rootless pass of the suite.  As root: CMD runs as TC_TEST_USER (default
# tctest, made by scripts/test) with its own HOME and no XDG_RUNTIME_DIR or
# XDG_CONFIG_HOME (where the image key is) of root's.  Not root: the plain suite already runs without root; skip (77).
set -u

user=${TC_TEST_USER:-tctest}
if [ "$(id -u)" -ne 0 ]; then
	echo "as_user.sh: not root: the plain integration suite is the rootless pass" >&2
	exit 77
fi
if ! home=$(getent passwd "$user" | cut -d: -f6) || [ -z "$home" ]; then
	echo "as_user.sh: no test user $user (scripts/test makes it; TC_TEST_USER names another)" >&2
	exit 77
fi
uid=$(id -u "$user")
# Everything the test needs must be reachable by the user.
for f in "$@"; do
	case $f in
	/*) if [ -e "$f" ] && ! setpriv --reuid="$uid" --regid="$(id -g "$user")" --init-groups \
			test -r "$f"; then
		echo "as_user.sh: $user cannot read $f (scripts/test grants it)" >&2
		exit 77
	    fi ;;
	esac
done
exec setpriv --reuid="$uid" --regid="$(id -g "$user")" --init-groups \
	env -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME HOME="$home" USER="$user" LOGNAME="$user" "$@"
