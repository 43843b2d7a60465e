#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mpi_job.sh --tc TRACE_CKPT --mpi-ring MPI_RING_C [--node-local]: an Open
# MPI job of 4 ranks on 2 nodes, launched by mpirun inside the allocation,
# checkpointed at the signal, requeued and restored on another pair of
# nodes, all as the ordinary test user.  Its result equals an uninterrupted
# run's (rank 0 computes the whole job alone and checks).
#
# --node-local: the checkpoint directory is on each node's own disk
# (cluster.sh's $D/scratch): each node writes its part there, the
# coordinator's node the top manifest.  The batch script notes that node
# (next to its output) and restores with --fetch-from it: the top manifest
# comes from there, and the part of each node the job left is fetched from
# that node by the one that takes it over (restore --all-hosts passes
# --fetch-from on), all checked under the computation's secret before use.
# Without it the directory is shared and nothing is copied.
#
# mpirun starts its daemons with its ssh launcher (OMPI_MCA_plm=rsh): the
# nodes of the job accept the user's key (cluster.sh runs an sshd on each).
# trace-ckpt carries that ssh into the computation, as for any ssh.
#
#  1. the batch script starts the job's coordinator and
#     `trace-ckpt run --coordinator ... -- mpirun -np 4 ...`; rank 0 ticks,
#     both nodes' supervisors joined
#  2. USR1 to the batch script: its trap takes dump --all-hosts --kill (the
#     MPI connections between the nodes drained: no root) and requeues
#  3. the job requeued with its first node drained runs on the other two;
#     the same batch script finds the checkpoint and runs
#     `trace-ckpt restore --all-hosts --host-map slurm`: each host of the
#     checkpoint goes to a node of the new job (the one still in it stays)
#  4. the ticks go on from where they were to the last round; rank 0 prints
#     the result of an uninterrupted run and PASS
set -u
. "$(dirname "$0")/lib.sh"

TC='' SRC='' LOCAL=''
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--mpi-ring) SRC=$(realpath "$2"); shift 2 ;;
	--node-local) LOCAL=1; shift ;;
	*) echo "usage: mpi_job.sh --tc TRACE_CKPT --mpi-ring MPI_RING_C [--node-local]" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -r $SRC ]] || { echo "mpi_job.sh: --tc and --mpi-ring" >&2; exit 2; }
{ command -v mpicc.openmpi && command -v mpirun.openmpi; } >/dev/null ||
	{ echo "SKIP: Open MPI (openmpi-bin, libopenmpi-dev) is not installed"; exit 77; }

slurm_setup "mpi-job${LOCAL:+-local}"
SD=${TC_SLURM_DIR:-/tmp/tc-slurm}
CK=$WORK/ck
if [[ -n $LOCAL ]]; then
	# The same path on every node, a different directory on each.
	CK=$SD/scratch/$(basename "$WORK")/ck
	trap 'rc=$?; rm -rf "$SD"/local/n*/"$(basename "$WORK")"; (exit $rc); _sl_cleanup' EXIT
fi
PORT=7782
ROUNDS=1000
OUT=$WORK/out
mpicc.openmpi -O2 -Wall -Wextra -Werror -o "$WORK/mpi_ring" "$SRC" || fail "mpicc"
chown -R "$TC_TEST_USER:" "$WORK" || fail "chown $WORK"
sl_user_ssh
SSH=$SL_SSH

cat >"$WORK/job.sh" <<EOF
#!/bin/bash
#SBATCH -N2 -n2 --requeue --open-mode=append
# mpirun inside the allocation, its daemons started through ssh.
export PATH=$SD/ssh/bin:\$PATH OMPI_MCA_plm=rsh OMPI_MCA_plm_rsh_agent=$SSH
addr=\$(ip -4 -o addr show eth0 | awk '{ split(\$4, a, "/"); print a[1] }')
echo "run \${SLURM_RESTART_COUNT:-0} on \$SLURM_JOB_NODELIST, coordinator \$addr:$PORT"
"$TC" coordinator --listen "\$addr:$PORT" --secret "$WORK/secret" >>"$WORK/coord.log" 2>&1 &
coord=\$!
for i in \$(seq 200); do grep -q "listening on \$addr:$PORT" "$WORK/coord.log" && break; sleep 0.05; done
echo "\$addr:$PORT" >"$WORK/coord.addr"
# At the signal (#SBATCH --signal=B:USR1@120; here scancel --batch
# --signal=USR1): one checkpoint of every node, the job requeued.
checkpoint() {
	"$TC" dump --all-hosts --kill -D "$CK" --coordinator "\$addr:$PORT" \\
		--secret "$WORK/secret" >>"$WORK/dump.out" 2>&1 || return
	# Node-local: the top manifest is on this node's disk.
	echo "\$addr" >"$WORK/ck.from"
	scontrol requeue "\$SLURM_JOB_ID"
}
trap checkpoint USR1
if [ -s "$CK/manifest" ]; then
	"$TC" restore --all-hosts --host-map slurm --coordinator "\$addr:$PORT" \\
		--secret "$WORK/secret" "$CK" &
elif [ -n "$LOCAL" ] && [ -s "$WORK/ck.from" ]; then
	"$TC" restore --all-hosts --host-map slurm --coordinator "\$addr:$PORT" \\
		--secret "$WORK/secret" --fetch-from "\$(cat "$WORK/ck.from")" "$CK" &
else
	nodes=(\$(scontrol show hostnames "\$SLURM_JOB_NODELIST"))
	"$TC" run --coordinator "\$addr:$PORT" --secret "$WORK/secret" -- \\
		mpirun.openmpi -np 4 --oversubscribe --host "\${nodes[0]}:2,\${nodes[1]}:2" \\
		--mca pml ob1 --mca btl self,vader,tcp --mca btl_tcp_if_include eth0 \\
		--mca oob_tcp_if_include eth0 --mca mpi_yield_when_idle 1 \\
		"$WORK/mpi_ring" -n $ROUNDS -i 10 &
fi
main=\$!
wait \$main
rc=\$?
# The trap returned from wait: the dump ends the program.
while kill -0 \$main 2>/dev/null; do wait \$main; rc=\$?; done
kill \$coord
exit \$rc
EOF
chmod 0755 "$WORK/job.sh"
chown "$TC_TEST_USER:" "$WORK/job.sh"
JOB=$(sl_user sbatch --parsable -J tc-mpi-job -D "$WORK" -o "$OUT" "$WORK/job.sh") ||
	fail "sbatch refused the job"
JOB=${JOB%%;*}
echo "$JOB" >"$WORK/jobs"
log "job $JOB submitted by $TC_TEST_USER; output $OUT"

# 1. mpirun runs 4 ranks on 2 nodes, both nodes' supervisors joined.
wait_for "rank 0 at tick 30" 60 eval '[[ $(last_tick "$OUT") -ge 30 ]]' ||
	{ cat "$OUT" "$WORK/coord.log" >&2; fail "the MPI job does not run"; }
COORD=$(cat "$WORK/coord.addr")
wait_for "2 hosts joined" 30 eval '[[ $(sl_user "$TC" list --all-hosts --coordinator "$COORD" \
	--secret "$WORK/secret" 2>/dev/null | grep -c .) == 2 ]]' || fail "the supervisors did not join"
first_nodes=$(job_field "$JOB" NodeList)
log "1. mpirun runs 4 ranks on $first_nodes, both nodes' supervisors joined $COORD"

# 2. The checkpoint at the signal; the first node drained, so the requeued
# job runs elsewhere.
gone=$(sl_root scontrol show hostnames "$first_nodes" | head -1)
[[ $gone =~ ^tcsn[0-9]+$ ]] || fail "job $JOB runs on '$first_nodes'"
echo "$gone" >>"$SL_DRAINED"
sl_root scontrol update NodeName="$gone" State=DRAIN Reason=mpi-job ||
	fail "scontrol update NodeName=$gone State=DRAIN"
t_sig=$(now)
sl_user scancel --batch --signal=USR1 "$JOB" || fail "scancel --batch --signal=USR1 $JOB"
wait_for "the checkpoint at the signal" 60 eval 'grep -q "checkpoint of 2 hosts" "$WORK/dump.out"' ||
	fail "no checkpoint after the signal: $(cat "$WORK/dump.out" 2>/dev/null)"
t_ck=$(now)
log "2. USR1 -> $(head -1 "$WORK/dump.out") ($(ms_between "$t_sig" "$t_ck") ms from the signal)"

# 3. Requeued; restored on the nodes Slurm gives it.
wait_for "job $JOB pending again" 30 eval '[[ $(job_field "$JOB" JobState) == PENDING ]]' ||
	fail "job $JOB is $(job_field "$JOB" JobState), not requeued"
BEFORE=$(last_tick "$OUT")
release_requeued "$JOB" || fail "releasing the requeued job"
wait_for "the job restarted" 60 eval '[[ $(count_of "$OUT" "^run 1 on") == 1 ]]' ||
	{ cat "$OUT" >&2; fail "the job did not start again"; }
t_start=$(now)
new_nodes=$(job_field "$JOB" NodeList)
wait_for "both parts released" 60 eval 'grep -q "released together" "$OUT"' ||
	{ tail -20 "$OUT" >&2; fail "the parts were not restored"; }
t_resumed=$(now)
log "3. requeued from $first_nodes to $new_nodes at tick $BEFORE"

# 4. On to the last round, every tick in order; the result checked by rank 0.
wait_for "the job's end" 120 eval 'grep -qx PASS "$OUT" || grep -q "^BAD\|failed" "$OUT"' ||
	{ tail -30 "$OUT" >&2; fail "the restored job did not finish"; }
grep -q "^BAD" "$OUT" && fail "$(grep -m1 '^BAD' "$OUT")"
grep -qx PASS "$OUT" || fail "$(grep -m1 failed "$OUT")"
grep -q "host .* goes to node" "$OUT" || fail "restore --host-map slurm said nothing of where the hosts went"
if [[ -n $LOCAL ]]; then
	grep -q "ck/manifest is not here: fetching it from" "$OUT" || fail "the top manifest was not fetched"
	grep -q "ck/$gone.g1 is not here: fetching it from" "$OUT" || fail "the part of $gone was not fetched"
	[[ ! -e $SD/scratch/$(basename "$WORK") ]] || fail "the checkpoint is in the shared $SD/scratch"
else
	grep -q "fetching it from" "$OUT" && fail "a shared directory, and yet: $(grep -m1 'fetching it from' "$OUT")"
fi
ticks_check "$OUT" || fail "the ticks of rank 0 do not go on in order"
[[ $(last_tick "$OUT") == "$ROUNDS" ]] || fail "the job did not reach round $ROUNDS"
# The batch script ends with the restored job's status: the job completes.
wait_for "job $JOB completed" 60 eval '[[ $(job_field "$JOB" JobState) == COMPLETED ]]' ||
	fail "job $JOB is $(job_field "$JOB" JobState) after the MPI job's end, not COMPLETED"
# For scripts/bench (polled every 20 ms).
echo "2 nodes, MPI: signal -> checkpoint written $(ms_between "$t_sig" "$t_ck") ms; batch script start -> both parts running $(ms_between "$t_start" "$t_resumed") ms"
log "PASS: restored at tick $BEFORE on $new_nodes ($(grep -m2 'goes to node' "$OUT" | tr '\n' ' ')), $(grep -m1 '^result' "$OUT")"
exit 0
