# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# lib.sh: what the tests in tests/slurm share (source it).  The tests run as
# root (they bring the cluster up); every job is submitted, signalled and
# checkpointed as the ordinary test user ($TC_TEST_USER, default tctest).
#
#   slurm_setup NAME      skip (77) with a named reason, or bring the cluster
#                         up (if it is not), make the work dir $WORK (the
#                         user's) and a trap that cleans up
#   sl_user CMD...        CMD on the login node as the test user
#   sl_root CMD...        CMD on the login node as root (scontrol update of nodes)
#   sl_user_ssh           the test user can ssh between the nodes ($SL_SSH)
#   job_field J FIELD     one field of scontrol show job
#   wait_for DESC TIMEOUT_S CMD...   poll CMD every 20 ms until it succeeds
#   ticks_check FILE      ticks consecutive, no BAD, PASS: else say what and fail
#   now                   seconds since the epoch, with nanoseconds
#   release_requeued J    let requeued job J start at once (StartTime=now), but
#                         not within the second its credential was revoked

SL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER=$SL_HERE/cluster.sh
TC_TEST_USER=${TC_TEST_USER:-tctest}
SL_NAME=slurm
SL_WE_BROUGHT_UP=
WORK=

log() { echo "$SL_NAME: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

sl_user() { "$CLUSTER" exec --user "$TC_TEST_USER" "$@"; }
sl_root() { "$CLUSTER" exec "$@"; }

job_field()
{
	sl_root scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

wait_for()
{
	local desc=$1 timeout=$2 deadline
	shift 2
	deadline=$(($(date +%s) + timeout))
	until "$@"; do
		if (($(date +%s) >= deadline)); then
			log "timed out after ${timeout} s waiting for: $desc"
			return 1
		fi
		sleep 0.02
	done
}

# Slurm holds a requeued job back for cred_expire + 1 s; we need not wait.
# But its nodes revoked the job's credential when it was killed, and one
# made within that same second counts as revoked: the job then FAILS
# ("Killing non-startable batch JobId=1: Job credential revoked", seen when
# the new run came 0.3 s after the requeue).  The revocation came before the
# caller saw the requeue, so the next second of the clock is safe.  (Not
# StartTime=now+2: a start in the future waits for the next scheduling pass,
# 55 s once.)
release_requeued()
{
	local seen
	seen=$(date +%s)
	wait_for "the second after $seen" 3 eval '(($(date +%s) > seen))' || return 1
	sl_user scontrol update JobId="$1" StartTime=now
}

# The last "tick N" of a file, 0 if none.
last_tick()
{
	[[ -e $1 ]] || { echo 0; return; }
	awk '/^tick [0-9]+$/ { n = $2 } END { print n + 0 }' "$1"
}

# Count of lines matching an ERE.
count_of() { grep -cE "$2" "$1" 2>/dev/null || true; }

# Every tick is the one before + 1 (allow_back: a tick may go back to an
# earlier one right after a "resumed" line, as after a restore of a
# periodic checkpoint, but never forward past one), no BAD, a PASS.
ticks_check()
{
	local file=$1 allow_back=${2:-0}
	if grep -q BAD "$file"; then
		grep BAD "$file" >&2
		return 1
	fi
	grep -qx PASS "$file" || { log "no PASS in $file"; return 1; }
	awk -v back="$allow_back" '
		/^trace-ckpt run: resumed from/ { resumed = 1; next }
		/^tick [0-9]+$/ {
			n = $2
			if (prev == "" && n != 1) { print "first tick is " n; bad = 1 }
			else if (prev != "" && n != prev + 1) {
				if (!(resumed && back && n <= prev)) {
					print "tick " n " after tick " prev (resumed ? " (after a resume)" : "")
					bad = 1
				}
			}
			prev = n; resumed = 0
		}
		END { exit bad }' "$file" >&2
}

_sl_cleanup()
{
	local rc=$? n
	if [[ -n $WORK && -d $WORK ]]; then
		# Jobs of this test that are still there.
		local jobs=()
		[[ -s $WORK/jobs ]] && mapfile -t jobs <"$WORK/jobs"
		((${#jobs[@]})) && sl_root scancel "${jobs[@]}" 2>/dev/null
		# Nodes drained or lost by the test serve again.
		if [[ -z $SL_WE_BROUGHT_UP && -s $SL_DRAINED ]]; then
			for n in $(sort -u "$SL_DRAINED"); do
				[[ $n =~ ^tcsn([0-9]+)$ ]] && "$CLUSTER" start-node "${BASH_REMATCH[1]}" >/dev/null 2>&1
				sl_root scontrol update NodeName="$n" State=RESUME 2>/dev/null
			done
			# Resumed nodes are "not responding" until slurmctld pings them.
			wait_for "the nodes to respond again" 30 eval '"$CLUSTER" status >/dev/null 2>&1'
		fi
		if ((rc == 0 || rc == 77)) && [[ -z ${TC_KEEP:-} ]]; then
			rm -rf "$WORK"
		else
			log "work directory kept: $WORK"
		fi
	fi
	[[ -n $SL_WE_BROUGHT_UP && -z ${TC_SLURM_KEEP:-} ]] && "$CLUSTER" down
	exit $rc
}

slurm_setup()
{
	local r
	SL_NAME=$1
	"$CLUSTER" available
	r=$?
	((r == 0)) || exit $r
	if ! id -u "$TC_TEST_USER" >/dev/null 2>&1; then
		log "skip: no test user $TC_TEST_USER (scripts/test makes it; TC_TEST_USER names another)"
		exit 77
	fi
	if ! "$CLUSTER" status >/dev/null 2>&1; then
		"$CLUSTER" up >&2 || fail "the cluster did not come up"
		SL_WE_BROUGHT_UP=1
	fi
	WORK=$(mktemp -d "/tmp/tc-slurm-$SL_NAME.XXXXXX") || fail "no work directory"
	SL_DRAINED=$WORK/drained
	trap _sl_cleanup EXIT
	chmod 0755 "$WORK" && chown "$TC_TEST_USER:" "$WORK" || fail "cannot give $WORK to $TC_TEST_USER"
}

# The test user may ssh from node to node (cluster.sh's sshd on each): its
# own key in WORK, authorized on the nodes, and its ssh config, which the
# cluster's ssh ($SL_SSH, first in PATH in ssh sessions; put it first in
# the job's PATH too) uses on every node.  Call it after slurm_setup.
sl_user_ssh()
{
	local sd=${TC_SLURM_DIR:-/tmp/tc-slurm} i
	[[ -x /usr/sbin/sshd ]] || { log "skip: no sshd (openssh-server)"; exit 77; }
	# A cluster brought up before sshd was part of it has none: started here.
	for i in 1 2 3; do "$CLUSTER" start-node "$i" >/dev/null || fail "node $i: sshd"; done
	SL_SSH=$sd/ssh/bin/ssh
	ssh-keygen -q -t ed25519 -N '' -C "$TC_TEST_USER" -f "$WORK/user_key" || fail "ssh-keygen"
	chown "$TC_TEST_USER:" "$WORK/user_key" "$WORK/user_key.pub" || fail "chown the key"
	cp "$WORK/user_key.pub" "$sd/ssh/authorized_keys_$TC_TEST_USER" || fail "authorizing the key"
	{ cat "$sd/ssh/ssh_config"; echo "    IdentityFile $WORK/user_key"; } >"$sd/ssh/config-$TC_TEST_USER"
	chmod 0644 "$sd/ssh/config-$TC_TEST_USER"
	sl_user "$SL_SSH" tcsn2 true ||
		fail "the test user cannot ssh to tcsn2: $(tail -3 "$sd/log/sshd-tcsn2.log")"
}

# The job's node now; drain it so that the next run is elsewhere.
drain_node_of()
{
	local node
	node=$(job_field "$1" NodeList)
	[[ $node =~ ^tcsn[0-9]+$ ]] || { log "job $1 runs on '$node'"; return 1; }
	sl_root scontrol update NodeName="$node" State=DRAIN Reason=tc-slurm-test || return 1
	echo "$node" >>"$SL_DRAINED"
	echo "$node"
}
