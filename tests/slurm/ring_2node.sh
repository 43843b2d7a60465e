#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ring_2node.sh --tc TRACE_CKPT --ring RING: a 2-node job with a TCP ring
# (tests/multihost/ring), checkpointed as one computation and restarted on
# other nodes.  A SKELETON: the steps that work today run and are checked;
# the test then skips (77) at the first one that does not exist yet, naming
# it, so it starts to test more as those parts land.
#
# Today's way to run such a job (what the batch script below does): the
# batch script starts the job's coordinator on its node and one supervisor
# per task with srun, each joining it:
#
#   trace-ckpt coordinator --listen ADDR:PORT --secret DIR/secret &
#   srun trace-ckpt run --coordinator ADDR:PORT --secret DIR/secret -- ring ...
#
#  1. the job runs on 2 nodes; both ring nodes are READY and tick; both
#     supervisors joined the coordinator            (works, checked)
#  2. dump --all-hosts --kill -D DIR as the user     (needs TCP without
#     privilege: drain and refill; skips with the message until then)
#  3. the job requeued with its nodes drained, so it runs on the third node
#     and one of the others; its batch script finds DIR/manifest and
#     restores each old host's part on the task that takes its place,
#     mapping old addresses to new (--host-map) from SLURM_JOB_NODELIST and
#     the task placement                             (not done: restore
#     --all-hosts starts the parts through ssh; under Slurm it must start
#     them with srun, or let srun-started parts join and be released)
#  4. the ring goes on to PASS on both nodes, ticks consecutive
set -u
. "$(dirname "$0")/lib.sh"

TC='' RING=''
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--ring) RING=$(realpath "$2"); shift 2 ;;
	*) echo "usage: ring_2node.sh --tc TRACE_CKPT --ring RING" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $RING ]] || { echo "ring_2node.sh: --tc and --ring" >&2; exit 2; }

slurm_setup ring-2node
PORT=7781
OUT=$WORK/out
cat >"$WORK/job.sh" <<EOF
#!/bin/bash
#SBATCH -N2 -n2 --requeue --open-mode=append
addr=\$(ip -4 -o addr show eth0 | awk '{ split(\$4, a, "/"); print a[1] }')
echo "run \${SLURM_RESTART_COUNT:-0} on \$SLURM_JOB_NODELIST, coordinator \$addr:$PORT"
"$TC" coordinator --listen "\$addr:$PORT" --secret "$WORK/secret" >>"$WORK/coord.log" 2>&1 &
for i in \$(seq 200); do grep -q "listening on \$addr:$PORT" "$WORK/coord.log" && break; sleep 0.05; done
echo "\$addr:$PORT" >"$WORK/coord.addr"
# The nodes' addresses are their NodeAddr: tcsnI is 10.234.0.I (cluster.sh).
exec srun --label bash -c '
	nodes=(\$(scontrol show hostnames "\$SLURM_JOB_NODELIST"))
	next=\${nodes[\$(((SLURM_PROCID + 1) % SLURM_NTASKS))]}
	exec "\$0" run --coordinator "\$1" --secret "\$2" -- "\$3" --id \$SLURM_PROCID --n \$SLURM_NTASKS \\
		--listen 0.0.0.0:7700 --next 10.234.0.\${next#tcsn}:7700 -n 3000 -i 20' \\
	"$TC" "\$addr:$PORT" "$WORK/secret" "$RING"
EOF
chmod 0755 "$WORK/job.sh"
JOB=$(sl_user sbatch --parsable -J tc-ring-2node -D "$WORK" -o "$OUT" "$WORK/job.sh") ||
	fail "sbatch refused the job"
JOB=${JOB%%;*}
echo "$JOB" >"$WORK/jobs"
log "job $JOB submitted by $TC_TEST_USER; output $OUT"

# 1. Running on two nodes, both ring nodes ticking, both supervisors joined.
wait_for "both ring nodes at tick 20" 60 \
	eval '[[ $(grep -c "^[01]: tick 20$" "$OUT" 2>/dev/null) == 2 ]]' ||
	{ cat "$OUT" "$WORK/coord.log" >&2; fail "the ring does not run"; }
COORD=$(cat "$WORK/coord.addr")
wait_for "2 hosts joined" 30 eval '[[ $(sl_user "$TC" list --all-hosts --coordinator "$COORD" \
	--secret "$WORK/secret" 2>/dev/null | grep -c .) == 2 ]]' || fail "the supervisors did not join"
log "1. the ring runs on $(job_field "$JOB" NodeList); both supervisors joined $COORD"

# 2. One checkpoint of both nodes, the job's computation ended.
if ! sl_user "$TC" dump --all-hosts --kill -D "$WORK/ck" --coordinator "$COORD" \
	--secret "$WORK/secret" >"$WORK/dump.out" 2>&1; then
	# A connection between hosts, without TCP_REPAIR: refused by name (the
	# drain works between processes of one host only, for now).
	if grep -qE "TCP connection .*(without TCP_REPAIR|peer is not in the computation)|established TCP connection: keeping it needs TCP_REPAIR" \
		"$WORK/dump.out"; then
		log "2. dump --all-hosts: $(head -1 "$WORK/dump.out")"
		# A refused checkpoint leaves the ring running as before.
		at=$(awk '/^[01]: tick [0-9]+$/ { n = $3 } END { print n + 0 }' "$OUT")
		want=$((at + 20))
		wait_for "both ring nodes at tick $want" 30 eval \
			'[[ $(grep -cE "^[01]: tick $want$" "$OUT") == 2 ]]' ||
			fail "the ring stopped after the refused checkpoint"
		grep -q BAD "$OUT" && fail "BAD after the refused checkpoint"
		log "skip: not done yet: TCP between hosts without privilege (drain and refill across hosts)"
		exit 77
	fi
	fail "dump --all-hosts: $(cat "$WORK/dump.out")"
fi
log "2. $(cat "$WORK/dump.out")"

# 3. Restart on other nodes under Slurm.
log "skip: not done yet: restarting a multi-node job under srun (restore --all-hosts starts the parts through ssh; the job's tasks must restore them, mapping old hosts to new)"
exit 77
