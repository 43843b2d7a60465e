#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ring_2node.sh --tc TRACE_CKPT --ring RING [--node-local]: a 2-node job
# with a TCP ring (tests/multihost/ring), checkpointed as one computation
# and restarted on other nodes, all as the ordinary test user.
#
# --node-local: the checkpoint directory is on each node's own disk
# (cluster.sh's $D/scratch); the batch script notes the coordinator's node
# when it checkpoints, and each task resumes with --fetch-from it: the top
# manifest from there, its part from the node that wrote it.
#
# The batch script starts the job's coordinator on its node and one
# supervisor per task with srun, each joining it; the same line restores
# each task's part when DIR holds a checkpoint:
#
#   trace-ckpt coordinator --listen ADDR:PORT --secret DIR/secret &
#   srun trace-ckpt run --dir DIR --resume --coordinator ADDR:PORT \
#        --secret DIR/secret -- ring ...
#
#  1. the job runs on 2 nodes; both ring nodes tick; both supervisors joined
#  2. USR1 to the batch script (what --signal=B:USR1@N sends before the time
#     limit): its trap takes dump --all-hosts --kill -D DIR, the ring's
#     connections between the nodes drained (no TCP_REPAIR without root),
#     and requeues the job
#  3. the job requeued with its first node drained, so it runs on the third
#     node and the second; each task restores the part the task of its
#     number had (SLURM_PROCID), the parts learn from the coordinator where
#     every old address went, connect again and are released together
#  4. the ring goes on from its ticks on both nodes, ticks consecutive
set -u
. "$(dirname "$0")/lib.sh"

TC='' RING='' LOCAL=''
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--ring) RING=$(realpath "$2"); shift 2 ;;
	--node-local) LOCAL=1; shift ;;
	*) echo "usage: ring_2node.sh --tc TRACE_CKPT --ring RING [--node-local]" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $RING ]] || { echo "ring_2node.sh: --tc and --ring" >&2; exit 2; }

slurm_setup "ring-2node${LOCAL:+-local}"
SD=${TC_SLURM_DIR:-/tmp/tc-slurm}
CK=$WORK/ck
if [[ -n $LOCAL ]]; then
	# The same path on every node, a different directory on each.
	CK=$SD/scratch/$(basename "$WORK")/ck
	trap 'rc=$?; rm -rf "$SD"/local/n*/"$(basename "$WORK")"; (exit $rc); _sl_cleanup' EXIT
	# The tasks fetch through ssh.
	sl_user_ssh
fi
PORT=7781
OUT=$WORK/out
cat >"$WORK/job.sh" <<EOF
#!/bin/bash
#SBATCH -N2 -n2 --requeue --open-mode=append
[ -z "$LOCAL" ] || export PATH=$SD/ssh/bin:\$PATH
addr=\$(ip -4 -o addr show eth0 | awk '{ split(\$4, a, "/"); print a[1] }')
echo "run \${SLURM_RESTART_COUNT:-0} on \$SLURM_JOB_NODELIST, coordinator \$addr:$PORT"
"$TC" coordinator --listen "\$addr:$PORT" --secret "$WORK/secret" >>"$WORK/coord.log" 2>&1 &
for i in \$(seq 200); do grep -q "listening on \$addr:$PORT" "$WORK/coord.log" && break; sleep 0.05; done
echo "\$addr:$PORT" >"$WORK/coord.addr"
# At the signal (#SBATCH --signal=B:USR1@120; here scancel --batch
# --signal=USR1): one checkpoint of every node, the job requeued.
checkpoint() {
	"$TC" dump --all-hosts --kill -D "$CK" --coordinator "\$addr:$PORT" \
		--secret "$WORK/secret" >>"$WORK/dump.out" 2>&1 || return
	# Node-local: the top manifest is on this node's disk.
	echo "\$addr" >"$WORK/ck.from"
	scontrol requeue "\$SLURM_JOB_ID"
}
trap checkpoint USR1
from=
[ -n "$LOCAL" ] && [ -s "$WORK/ck.from" ] && from=\$(cat "$WORK/ck.from")
# The nodes' addresses are their NodeAddr: tcsnI is 10.234.0.I (cluster.sh).
srun --label bash -c '
	nodes=(\$(scontrol show hostnames "\$SLURM_JOB_NODELIST"))
	next=\${nodes[\$(((SLURM_PROCID + 1) % SLURM_NTASKS))]}
	exec "\$0" run --dir "$CK" --resume \${4:+--fetch-from "\$4"} --coordinator "\$1" --secret "\$2" -- "\$3" --id \$SLURM_PROCID --n \$SLURM_NTASKS \\
		--listen 0.0.0.0:7700 --next 10.234.0.\${next#tcsn}:7700 -n 3000 -i 20' \\
	"$TC" "\$addr:$PORT" "$WORK/secret" "$RING" "\$from" &
# A trap runs when wait returns; then srun ends with its killed tasks.
wait \$!
wait
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

# 2. One checkpoint of both nodes, the job's computation ended; its first
# node drained first, so that the requeued job runs elsewhere.
first_nodes=$(job_field "$JOB" NodeList)
gone=$(sl_root scontrol show hostnames "$first_nodes" | head -1)
[[ $gone =~ ^tcsn[0-9]+$ ]] || fail "job $JOB runs on '$first_nodes'"
echo "$gone" >>"$SL_DRAINED"
sl_root scontrol update NodeName="$gone" State=DRAIN Reason=ring-2node ||
	fail "scontrol update NodeName=$gone State=DRAIN"
t_sig=$(now)
sl_user scancel --batch --signal=USR1 "$JOB" || fail "scancel --batch --signal=USR1 $JOB"
wait_for "the checkpoint at the signal" 60 eval 'grep -q "checkpoint of 2 hosts" "$WORK/dump.out"' ||
	fail "no checkpoint after the signal: $(cat "$WORK/dump.out" 2>/dev/null)"
t_ck=$(now)
log "2. USR1 -> $(head -1 "$WORK/dump.out") ($(ms_between "$t_sig" "$t_ck") ms from the signal)"
declare -A BEFORE
for t in 0 1; do
	BEFORE[$t]=$(awk -v p="$t: tick " 'index($0, p) == 1 { n = substr($0, length(p) + 1) } END { print n + 0 }' "$OUT")
done
[[ -n $LOCAL ]] || "$TC" show --key "$WORK/secret" "$CK" 2>&1 | grep -q drained ||
	fail "the checkpoint holds no drained connection"

# 3. Requeued by the batch script; restarted on other nodes, each task with its part.
wait_for "job $JOB pending again" 30 eval '[[ $(job_field "$JOB" JobState) == PENDING ]]' ||
	fail "job $JOB is $(job_field "$JOB" JobState), not requeued"
release_requeued "$JOB" || fail "releasing the requeued job"
wait_for "the job restarted" 60 eval '[[ $(count_of "$OUT" "^run 1 on") == 1 ]]' ||
	{ cat "$OUT" >&2; fail "the job did not start again"; }
t_start=$(now)
new_nodes=$(job_field "$JOB" NodeList)
wait_for "both parts resumed" 60 eval '(($(count_of "$OUT" "resumed from") == 2))' ||
	{ cat "$OUT" "$WORK/coord.log" >&2; fail "the parts were not restored"; }
t_resumed=$(now)
log "3. requeued from $first_nodes to $new_nodes: $(grep -m1 'parts restored' "$WORK/coord.log" | sed 's/.*coordinator: //')"

# 4. The ring goes on from where it was, every tick in order.
for t in 0 1; do
	want=$((BEFORE[$t] + 20))
	wait_for "ring node $t at tick $want" 60 eval "grep -q '^$t: tick $want\$' '$OUT'" ||
		{ tail -20 "$OUT" >&2; fail "ring node $t did not go on after the restart"; }
	ticks=$(sed -n "s/^$t: tick //p" "$OUT")
	prev=0
	for n in $ticks; do
		((n == prev + 1)) || fail "ring node $t: tick $n after $prev"
		prev=$n
	done
done
grep -q BAD "$OUT" && fail "$(grep -m1 BAD "$OUT")"
if [[ -n $LOCAL ]]; then
	(($(count_of "$OUT" "ck/manifest is not here: fetching it from") == 2)) ||
		fail "the top manifest was not fetched by both tasks"
	# A task on the node that wrote its part has it (Slurm places the tasks).
	(($(count_of "$OUT" "ck/tcsn[0-9]*.g1/manifest is not here: fetching it from") >= 1)) ||
		fail "the parts were not fetched from the nodes that wrote them"
	[[ ! -e $SD/scratch/$(basename "$WORK") ]] || fail "the checkpoint is in the shared $SD/scratch"
else
	grep -q "fetching it from" "$OUT" && fail "a shared directory, and yet: $(grep -m1 'fetching it from' "$OUT")"
fi
# For scripts/bench (polled every 20 ms).
echo "2 nodes: signal -> checkpoint written $(ms_between "$t_sig" "$t_ck") ms; batch script start -> both parts running $(ms_between "$t_start" "$t_resumed") ms"
log "PASS: both ring nodes went on from ticks ${BEFORE[0]} and ${BEFORE[1]} on $new_nodes, every tick consecutive"
exit 0
