# while-training.sh RUNDIR FIRST SECOND: starts FIRST (a training into
# RUNDIR) in the background, waits until it holds RUNDIR's lock and has a
# snapshot or a second passed, runs SECOND, reports whether FIRST still
# runs, then kills FIRST with SIGKILL (as a preempted job dies).
dir=$1
sh -c "exec $2" &
first=$!
for i in $(seq 300); do
  [ -s "$dir/run.lock" ] && break
  sleep 0.1
done
sleep 1
sh -c "$3"
if kill -0 $first 2>/dev/null; then echo "first run: still running"; else echo "first run: ended"; fi
kill -9 $first
wait $first 2>/dev/null
exit 0
