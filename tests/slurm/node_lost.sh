#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# node_lost.sh --tc TRACE_CKPT --counter COUNTER: a batch job that takes a
# checkpoint every second by itself
#
#   exec trace-ckpt run --dir DIR --resume --interval 1 --keep 2 \
#        --incremental --compress --checkpoint-on USR1 --requeue -- counter
#
# loses its node without warning (everything on it, slurmd included, is
# killed with SIGKILL, perhaps in the middle of a checkpoint); Slurm notices
# (SlurmdTimeout), requeues the job, starts it on another node, and it goes
# on from its last complete periodic generation: the ticks after the resume
# start again at most where the lost run had got to, then go on consecutively
# to PASS, with no BAD.  The generations are incremental and compressed: the
# one it goes on from takes the pages not written since from earlier ones.
set -u
. "$(dirname "$0")/lib.sh"

TC='' COUNTER='' TICKS=900
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--counter) COUNTER=$(realpath "$2"); shift 2 ;;
	*) echo "usage: node_lost.sh --tc TRACE_CKPT --counter COUNTER" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $COUNTER ]] || { echo "node_lost.sh: --tc and --counter" >&2; exit 2; }

slurm_setup node-lost
OUT=$WORK/out
cat >"$WORK/job.sh" <<EOF
#!/bin/bash
#SBATCH --requeue --open-mode=append
echo "run \${SLURM_RESTART_COUNT:-0} on \$(hostname) start \$(date +%s.%N)"
exec "$TC" run --dir "$WORK/ck" --resume --interval 1 --keep 2 --incremental --compress \\
	--checkpoint-on USR1 --requeue \\
	-- "$COUNTER" -n $TICKS -i 20
EOF
chmod 0755 "$WORK/job.sh"
JOB=$(sl_user sbatch --parsable -J tc-node-lost -D "$WORK" -o "$OUT" "$WORK/job.sh") ||
	fail "sbatch refused the job"
JOB=${JOB%%;*}
echo "$JOB" >"$WORK/jobs"
log "job $JOB submitted by $TC_TEST_USER; output $OUT"

# Two periodic generations at least: the second rotated the first to ck.1.
wait_for "two periodic checkpoints" 60 eval '[[ -e $WORK/ck.1/manifest && $(last_tick "$OUT") -ge 100 ]]' ||
	{ cat "$OUT" >&2; fail "no periodic checkpoints"; }
node=$(job_field "$JOB" NodeList)
[[ $node =~ ^tcsn([0-9]+)$ ]] || fail "job $JOB runs on '$node'"
echo "$node" >>"$SL_DRAINED"
"$CLUSTER" kill-node "${BASH_REMATCH[1]}"
t_kill=$(now)
lost_at=$(last_tick "$OUT")
log "node $node killed at tick $lost_at"

wait_for "job $JOB requeued after the loss of $node" 90 \
	eval '[[ $(job_field "$JOB" Restarts) == 1 && $(job_field "$JOB" JobState) == PENDING ]]' ||
	fail "job $JOB is $(job_field "$JOB" JobState), Restarts=$(job_field "$JOB" Restarts)"
t_requeued=$(now)
log "Slurm requeued job $JOB $(ms_between "$t_kill" "$t_requeued") ms after the loss (SlurmdTimeout=10)"
release_requeued "$JOB" || fail "releasing the requeued job"
wait_for "the job resumed" 60 eval '(($(count_of "$OUT" "^trace-ckpt run: resumed from ") >= 1))' ||
	{ cat "$OUT" >&2; fail "the job did not resume"; }
wait_for "job $JOB completed" 120 eval '[[ $(job_field "$JOB" JobState) == COMPLETED ]]' ||
	{ cat "$OUT" >&2; fail "job $JOB ended $(job_field "$JOB" JobState)"; }

grep -v '^tick ' "$OUT" >&2
ticks_check "$OUT" 1 || fail "the output does not go on from a checkpoint"
first=$(awk '/^trace-ckpt run: resumed from/ { r = 1; next } r && /^tick [0-9]+$/ { print $2; exit }' "$OUT")
[[ -n $first ]] || fail "no tick after the resume"
# Not a fresh start, and not past where the lost run had got to.
((first > 1 && first <= lost_at + 1)) ||
	fail "first tick after the resume is $first; the lost run was at $lost_at"
new_node=$(sed -n 's/^run 1 on \([^ ]*\) .*/\1/p' "$OUT")
[[ -n $new_node && $new_node != "$node" ]] || fail "run 1 was on '$new_node', the lost node was $node"
log "PASS: lost on $node at tick $lost_at, resumed on $new_node at tick $first ($((lost_at + 1 - first)) ticks done again), ticks consecutive from there to $TICKS"
