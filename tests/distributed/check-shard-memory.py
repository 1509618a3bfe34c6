"""Sharding the optimizer state (--shard-optimizer) takes from each rank
what the model of 1/N state predicts.

    check-shard-memory.py KILN [--world-sizes 2 4] [--json OUT.json]

Trains tests/distributed/Inputs/wide-mlp.json (AdamW: two moments of 5.8 M
parameters, 46.6 MB) for 8 steps at each world size N under mpirun,
unsharded and sharded, at the same per-rank batch. Per N:

- the persistent bytes `kiln inspect` reports must be the unsharded
  artifact's with each optimizer moment cut to its chunk, ⌈n / N⌉
  elements (64-byte aligned), exactly;
- the peak resident set of the largest rank (summary.json's
  peak_rss_bytes) must fall by at least 0.8 × (1 - 1/N) × 2 × the state:
  each rank keeps 1/N of it, and the runtime's copy of the trained state
  (to replay a non-finite step) shrinks with it.

--json writes the measurements, with --bench-steps K the median step
time of `kiln bench` over K steps too (bench/shard-memory). Exit 77
(skip) without mpirun.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'pylib'))
from ranks import run_ranks  # noqa: E402

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'Inputs', 'wide-mlp.json')
PER_RANK_BATCH = 8


def persistent_bytes(kiln, artifact):
    out = subprocess.run([kiln, 'inspect', artifact, '--buffers'], check=True,
                         capture_output=True, text=True).stdout
    total = float(re.search(r'^persistent\s+([0-9.]+) MB', out, re.M).group(1)) * 1e6
    moments = {}
    for line in out.splitlines():
        m = re.match(r'\s*\d+\s+\d+\s+(\d+)\s+f32\s+state\s+(optimizer\.exp_avg\S*)', line)
        if m:
            moments[m.group(2)] = int(m.group(1))
    return total, moments


def align(n):
    return (n + 63) // 64 * 64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('--world-sizes', type=int, nargs='+', default=[2, 4])
    ap.add_argument('--json')
    ap.add_argument('--bench-steps', type=int, default=0)
    args = ap.parse_args()
    mpirun = shutil.which('mpirun')
    if not mpirun:
        print('SKIP: no mpirun (apt-get install openmpi-bin)')
        return 77
    work = tempfile.mkdtemp(prefix='kiln-shard-memory-')
    failed = False
    results = []
    try:
        for n in args.world_sizes:
            row = {'ranks': n}
            for shard in (False, True):
                tag = 'sharded' if shard else 'unsharded'
                artifact = os.path.join(work, '%s-%d.kiln' % (tag, n))
                cmd = [args.kiln, 'compile', MODEL, '--ranks', str(n), '--batch-size',
                       str(PER_RANK_BATCH * n), '-o', artifact, '--quiet']
                subprocess.run(cmd + (['--shard-optimizer'] if shard else []), check=True)
                total, moments = persistent_bytes(args.kiln, artifact)
                run = os.path.join(work, '%s-%d' % (tag, n))
                run_ranks([args.kiln, 'train', artifact, '--steps', '8', '--data', 'synthetic:512',
                           '--threads', '1', '--quiet', '--no-eval', '--out', run], n, 'mpirun',
                          mpirun)
                summary = json.load(open(os.path.join(run, 'summary.json')))
                row[tag] = {'persistent_bytes': total, 'peak_rss_bytes': summary['peak_rss_bytes'],
                            'moments_bytes': sum(moments.values())}
                if args.bench_steps:
                    bench = [args.kiln, 'bench', artifact, '--steps', str(args.bench_steps),
                             '--threads', '1']
                    if n > 1:
                        bench = [mpirun, '--oversubscribe', '-n', str(n)] + bench
                    lines = subprocess.run(bench, check=True, capture_output=True, text=True,
                                           env=dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1',
                                                    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')).stdout
                    first = next(l for l in lines.splitlines() if l.startswith('{'))
                    row[tag]['step_ms'] = json.loads(first)['median_ms']
                row[tag + '_moments'] = moments
            whole = row['unsharded_moments']
            predicted = row['unsharded']['persistent_bytes'] - sum(
                align(b) - align(4 * -(-(b // 4) // n)) for b in whole.values())
            got = row['sharded']['persistent_bytes']
            # kiln inspect prints MB with 2 decimals: within 10 kB.
            ok = abs(got - predicted) < 1e4
            state = sum(whole.values())
            fell = row['unsharded']['peak_rss_bytes'] - row['sharded']['peak_rss_bytes']
            floor = 0.8 * (1 - 1 / n) * 2 * state
            print('%d ranks: persistent %.2f MB sharded, predicted %.2f MB (unsharded %.2f MB); '
                  'peak RSS %.1f -> %.1f MB, fell %.1f MB (at least %.1f MB expected)' % (
                      n, got / 1e6, predicted / 1e6, row['unsharded']['persistent_bytes'] / 1e6,
                      row['unsharded']['peak_rss_bytes'] / 1e6,
                      row['sharded']['peak_rss_bytes'] / 1e6, fell / 1e6, floor / 1e6))
            # One rank keeps all the state either way (and a sharded step's
            # buckets besides): only the persistent bytes are checked.
            failed |= not ok or (n > 1 and fell < floor)
            del row['unsharded_moments'], row['sharded_moments']
            results.append(row)
        if args.json:
            json.dump(results, open(args.json, 'w'), indent=2)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
