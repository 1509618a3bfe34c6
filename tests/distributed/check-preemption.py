#!/usr/bin/env python3
"""A stop signal ends a data-parallel run on every rank at the same step,
and --resume goes on to the uninterrupted run's parameters, byte for byte.

    check-preemption.py KILN TINY_GRAPH --launcher mpirun|tcp

For 2 ranks with SIGTERM sent to rank 1 only, and 3 ranks with SIGUSR1
sent to every rank: each rank exits with status 75, the summary names the
signal and fewer steps than asked, and after `--resume` params and state
equal those of an uninterrupted run of the same ranks and launcher.
Exit 77 (skip) without mpirun when it is needed.
"""
import argparse
import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'pylib'))
from ports import free_port  # noqa: E402
from processes import kiln_pids, rank_of  # noqa: E402

STEPS = 20000


def launch(args, cmd, ranks):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    if args.launcher == 'mpirun':
        return [subprocess.Popen([args.mpirun, '--oversubscribe', '-n', str(ranks)] + cmd,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)]
    port = str(free_port())
    return [subprocess.Popen(cmd, env=dict(env, RANK=str(r), WORLD_SIZE=str(ranks),
                                           LOCAL_RANK=str(r), LOCAL_WORLD_SIZE=str(ranks),
                                           MASTER_ADDR='127.0.0.1', MASTER_PORT=port),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for r in range(ranks)]


def finish(procs):
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    return [p.returncode for p in procs], ''.join(outputs)


def case(args, work, ranks, sig, targets):
    """One stop and resume; returns a failure message or None."""
    artifact = os.path.join(work, 'tiny-%d.kiln' % ranks)
    subprocess.run([args.kiln, 'compile', args.graph, '--ranks', str(ranks), '--batch-size',
                    str(4 * ranks), '-o', artifact, '--quiet'], check=True)

    def train(out, extra=()):
        return [args.kiln, 'train', artifact, '--steps', str(STEPS), '--epochs', '100', '--data',
                'synthetic:6400', '--threads', '1', '--quiet', '--no-eval', '--out', out,
                *extra]

    whole, stopped = os.path.join(work, 'whole-%d' % ranks), os.path.join(work, 'stop-%d' % ranks)
    codes, output = finish(launch(args, train(whole), ranks))
    if any(codes):
        return 'the uninterrupted run failed: %s\n%s' % (codes, output)
    procs = launch(args, train(stopped), ranks)
    lock = os.path.join(stopped, 'run.lock')
    for _ in range(600):
        if os.path.exists(lock) and os.path.getsize(lock) > 0:
            break
        time.sleep(0.05)
    time.sleep(1.0)
    if args.launcher == 'tcp':
        pids = {r: p.pid for r, p in enumerate(procs)}
    else:
        pids = {rank_of(p): p for p in kiln_pids(args.kiln, procs[0].pid)}
    sent = time.time()
    for r in targets:
        os.kill(pids[r], sig)
    codes, output = finish(procs)
    took = time.time() - sent
    summary = json.load(open(os.path.join(stopped, 'summary.json')))
    # mpirun reports the first non-zero status of its ranks.
    if any(c != 75 for c in codes) or summary.get('stopped_by_signal') != sig or \
            summary['steps'] >= STEPS:
        return 'the stop: codes %s, summary %s\n%s' % (codes, summary, output)
    codes, output = finish(launch(args, train(stopped, ['--resume']), ranks))
    if any(codes):
        return 'the resume failed: %s\n%s' % (codes, output)
    for name in ('params.safetensors', 'state.safetensors'):
        if not filecmp.cmp(os.path.join(whole, name), os.path.join(stopped, name), shallow=False):
            return '%s after the resume differs from the uninterrupted run' % name
    print('%d ranks (%s), %s to rank(s) %s: every rank exited 75 after step %d, %.2f s after '
          'the signal; resumed to %d steps, params and state byte-identical'
          % (ranks, args.launcher, signal.Signals(sig).name, targets, summary['steps'], took,
             STEPS))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('graph')
    ap.add_argument('--launcher', choices=['mpirun', 'tcp'], required=True)
    args = ap.parse_args()
    args.mpirun = shutil.which('mpirun')
    if args.launcher == 'mpirun' and not args.mpirun:
        print('SKIP: no mpirun (apt-get install openmpi-bin)')
        return 77
    work = tempfile.mkdtemp(prefix='kiln-preemption-')
    try:
        for ranks, sig, targets in ((2, signal.SIGTERM, [1]), (3, signal.SIGUSR1, [0, 1, 2])):
            failure = case(args, work, ranks, sig, targets)
            if failure:
                print('FAIL: %d ranks (%s): %s' % (ranks, args.launcher, failure))
                return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
