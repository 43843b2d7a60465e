#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# requeue.sh --tc TRACE_CKPT --counter COUNTER: a single-node batch job whose
# one line is
#
#   exec trace-ckpt run --dir DIR --resume --checkpoint-on USR1 --requeue -- counter
#
# submitted as the test user, signalled like a time limit does
# (scancel --batch --signal=USR1: the batch shell, which is trace-ckpt),
# checkpointed, requeued by itself, started again by Slurm on another node
# (the node it ran on is drained each time), twice; its output (one file,
# --open-mode=append) must go on exactly: ticks consecutive across the three
# runs, no BAD, PASS at the end, the job COMPLETED.
set -u
. "$(dirname "$0")/lib.sh"

TC='' COUNTER='' TICKS=600
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--counter) COUNTER=$(realpath "$2"); shift 2 ;;
	*) echo "usage: requeue.sh --tc TRACE_CKPT --counter COUNTER" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $COUNTER ]] || { echo "requeue.sh: --tc and --counter" >&2; exit 2; }

slurm_setup requeue
OUT=$WORK/out
cat >"$WORK/job.sh" <<EOF
#!/bin/bash
#SBATCH --requeue --open-mode=append
echo "run \${SLURM_RESTART_COUNT:-0} on \$(hostname) start \$(date +%s.%N)"
exec "$TC" run --dir "$WORK/ck" --resume --checkpoint-on USR1 --requeue -- "$COUNTER" -n $TICKS -i 20
EOF
chmod 0755 "$WORK/job.sh"
# The job gets this environment (sbatch --export=ALL): TRACE_CKPT_STUB too.
JOB=$(sl_user sbatch --parsable -J tc-requeue -D "$WORK" -o "$OUT" "$WORK/job.sh") ||
	fail "sbatch refused the job"
JOB=${JOB%%;*}
echo "$JOB" >"$WORK/jobs"
log "job $JOB submitted by $TC_TEST_USER; output $OUT"

prev=0
for round in 1 2; do
	# Running, and well into this run: 25 ticks after the last one before.
	want=$((prev + 25))
	wait_for "run $((round - 1)) at tick $want" 60 \
		eval '(($(last_tick "$OUT") >= want))' || { cat "$OUT" >&2; fail "job $JOB does not run"; }
	node=$(drain_node_of "$JOB") || fail "cannot drain the job's node"
	t_sig=$(now)
	sl_user scancel --batch --signal=USR1 "$JOB" || fail "scancel --signal=USR1 $JOB"
	wait_for "the checkpoint of run $((round - 1))" 30 \
		eval '(($(count_of "$OUT" "^trace-ckpt run: SIGUSR1: checkpoint: ") >= round))' ||
		{ cat "$OUT" >&2; fail "no checkpoint at SIGUSR1"; }
	t_ck=$(now)
	wait_for "requeue $round" 30 \
		eval '(($(count_of "$OUT" "^trace-ckpt run: job $JOB requeued") >= round))' ||
		{ cat "$OUT" >&2; fail "not requeued"; }
	wait_for "job $JOB pending" 30 eval '[[ $(job_field "$JOB" JobState) == PENDING ]]' ||
		fail "job $JOB is $(job_field "$JOB" JobState) after the requeue"
	prev=$(last_tick "$OUT")
	log "run $((round - 1)) on $node: checkpoint at tick $prev, seen $(ms_between "$t_sig" "$t_ck") ms after scancel; requeued"
	# Slurm holds a requeued job back for cred_expire + 1 s; we need not wait.
	release_requeued "$JOB" || fail "releasing the requeued job"
	t_rel=$(now)
	wait_for "run $round resumed" 60 \
		eval '(($(count_of "$OUT" "^trace-ckpt run: resumed from ") >= round))' ||
		{ cat "$OUT" >&2; fail "run $round did not resume"; }
	t_res=$(now)
	start=$(sed -n "s/^run $round on [^ ]* start //p" "$OUT" | tail -1)
	log "run $round on $(job_field "$JOB" NodeList): released -> resumed $(ms_between "$t_rel" "$t_res") ms; batch script start -> resumed $(ms_between "$start" "$t_res") ms"
done
wait_for "job $JOB completed" 120 eval '[[ $(job_field "$JOB" JobState) == COMPLETED ]]' ||
	{ cat "$OUT" >&2; fail "job $JOB ended $(job_field "$JOB" JobState)"; }

grep -v '^tick ' "$OUT" >&2
ticks_check "$OUT" || fail "the output does not go on exactly across the runs"
runs=$(count_of "$OUT" '^run [0-9]+ on ')
nodes=$(sed -n 's/^run [0-9]* on \([^ ]*\) .*/\1/p' "$OUT" | sort -u | wc -l)
((runs == 3)) || fail "$runs runs, expected 3"
((nodes == 3)) || fail "the 3 runs were on $nodes nodes, expected 3"
[[ $(job_field "$JOB" Restarts) == 2 ]] || fail "Restarts=$(job_field "$JOB" Restarts)"
log "PASS: 3 runs on 3 nodes, ticks 1..$TICKS exactly once, job COMPLETED after 2 requeues"
