#!/usr/bin/env bash
# Ranks given different artifacts stop at start, at the rendezvous, with an
# error naming both CRCs, before any step and without waiting for
# --comm-timeout (two torchrun-style ranks on this machine: one runs
# the supervised model compiled for batch 16, the other for batch 8).
#   check-artifact-mismatch.sh KILN MODEL.json
set -u
kiln=$1 model=$2
work=$(mktemp -d /tmp/kiln-mismatch-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$kiln" compile "$model" --batch-size 16 -o "$work/a.kiln" 2>/dev/null || exit 1
"$kiln" compile "$model" --batch-size 8 -o "$work/b.kiln" 2>/dev/null || exit 1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run() { # rank artifact
  RANK=$1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 120 \
    "$kiln" train "$2" --steps 5 --data synthetic:256 --out "$work/run$1" --comm-timeout 60 \
    >"$work/log$1" 2>&1
  echo $? >"$work/rc$1"
}
start=$SECONDS
run 0 "$work/a.kiln" & run 1 "$work/b.kiln" & wait
took=$((SECONDS - start))
cat "$work/log0" "$work/log1"
rc0=$(cat "$work/rc0") rc1=$(cat "$work/rc1")
if [ "$rc0" = 0 ] || [ "$rc1" = 0 ] || [ "$rc0" = 124 ] || [ "$rc1" = 124 ]; then
  echo "FAIL: expected both ranks to stop with an error (exit codes $rc0, $rc1)"; exit 1
fi
grep -q "rank 0: the ranks run different models: rank 1 runs another model (CRC-32 [0-9a-f]*, rank 0's [0-9a-f]*)" "$work/log0" ||
  { echo "FAIL: rank 0 did not name the mismatch"; exit 1; }
if [ "$took" -ge 30 ]; then
  echo "FAIL: the ranks took $took s to stop (--comm-timeout 60: they waited for it)"; exit 1
fi
if [ -e "$work/run0/metrics.jsonl" ]; then
  echo "FAIL: a step ran"; exit 1
fi
echo "ranks with different artifacts stopped at start in $took s (exit codes $rc0, $rc1)"
