#!/usr/bin/env python3
"""A stop signal ends a data-parallel run on every rank at the same step,
and --resume goes on to the uninterrupted run's parameters, byte for byte.

    check-preemption.py KILN TINY_GRAPH --launcher mpirun|tcp

For 2 ranks with SIGTERM sent to rank 1 only, and 3 ranks with SIGUSR1
sent to every rank (and, under mpirun, 2 ranks with SIGTERM sent to mpirun
itself, which forwards it and then exits 1 whatever the ranks did): each
rank exits with status 75 (under mpirun's own signal: rank 0 says it
stopped), the summary
names the signal and fewer steps than asked, and after `--resume` params
and state equal those of an uninterrupted run of the same ranks and
launcher. Then --stop-deadline: rank 1 frozen (SIGSTOP), SIGTERM to rank 0
with --stop-deadline 2: rank 0 ends within the deadline and a second
(status 1, saying so), the periodic snapshot before stays whole, and
--resume from it is byte-identical too.
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

STEPS = 30000


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


def compile_for(args, work, ranks):
    artifact = os.path.join(work, 'tiny-%d.kiln' % ranks)
    if not os.path.exists(artifact):
        subprocess.run([args.kiln, 'compile', args.graph, '--ranks', str(ranks), '--batch-size',
                        str(4 * ranks), '-o', artifact, '--quiet'], check=True)
    return artifact


def train_command(args, artifact, out, extra=()):
    return [args.kiln, 'train', artifact, '--steps', str(STEPS), '--epochs', '100', '--data',
            'synthetic:6400', '--threads', '1', '--quiet', '--no-eval', '--out', out, *extra]


def uninterrupted(args, work, artifact, ranks):
    """The whole run's directory (made once per world size), or a failure."""
    whole = os.path.join(work, 'whole-%d' % ranks)
    if not os.path.exists(os.path.join(whole, 'params.safetensors')):
        codes, output = finish(launch(args, train_command(args, artifact, whole), ranks))
        if any(codes):
            raise RuntimeError('the uninterrupted run failed: %s\n%s' % (codes, output))
    return whole


def started(procs, run, args):
    """Waits until the run holds its directory and has trained a while;
    returns each rank's pid."""
    lock = os.path.join(run, 'run.lock')
    for _ in range(600):
        if os.path.exists(lock) and os.path.getsize(lock) > 0:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    if args.launcher == 'tcp':
        return {r: p.pid for r, p in enumerate(procs)}
    return {rank_of(p): p for p in kiln_pids(args.kiln, procs[0].pid)}


def resumed_identical(args, artifact, ranks, whole, run, extra=()):
    """--resume to the end; a failure message or None."""
    codes, output = finish(launch(args, train_command(args, artifact, run,
                                                      ['--resume', *extra]), ranks))
    if any(codes):
        return 'the resume failed: %s\n%s' % (codes, output)
    for name in ('params.safetensors', 'state.safetensors'):
        if not filecmp.cmp(os.path.join(whole, name), os.path.join(run, name), shallow=False):
            return '%s after the resume differs from the uninterrupted run' % name
    return None


def case(args, work, ranks, sig, targets):
    """One stop and resume; `targets` are ranks, or 'launcher' for mpirun
    itself. Returns a failure message or None."""
    artifact = compile_for(args, work, ranks)
    whole = uninterrupted(args, work, artifact, ranks)
    stopped = os.path.join(work, 'stop-%d-%s-%s' % (ranks, signal.Signals(sig).name,
                                                     'launcher' if targets == 'launcher' else
                                                     '-'.join(map(str, targets))))
    procs = launch(args, train_command(args, artifact, stopped), ranks)
    pids = started(procs, stopped, args)
    sent = time.time()
    for pid in [procs[0].pid] if targets == 'launcher' else [pids[r] for r in targets]:
        os.kill(pid, sig)
    codes, output = finish(procs)
    took = time.time() - sent
    summary = json.load(open(os.path.join(stopped, 'summary.json')))
    # mpirun reports the first non-zero status of its ranks, except when it
    # is signalled itself: it forwards the signal, lets the ranks stop, and
    # exits 1 (Open MPI 4.1), so there rank 0's own line must say 75's words.
    expected = 1 if targets == 'launcher' else 75
    if any(c != expected for c in codes) or summary.get('stopped_by_signal') != sig or \
            summary['steps'] >= STEPS or 'kiln train: stopped by signal %d' % sig not in output:
        return 'the stop: codes %s, summary %s\n%s' % (codes, summary, output)
    failure = resumed_identical(args, artifact, ranks, whole, stopped)
    if failure:
        return failure
    print('%d ranks (%s), %s to %s: %s after step %d (signal received during '
          'the %s), %.2f s after the signal; resumed to %d steps, params and state '
          'byte-identical' % (ranks, args.launcher, signal.Signals(sig).name,
                              'mpirun' if targets == 'launcher' else 'rank(s) %s' % targets,
                              'the ranks stopped, mpirun exited 1' if targets == 'launcher'
                              else 'every rank exited 75', summary['steps'], summary['stop_received_during'], took, STEPS))
    return None


def deadline_case(args, work):
    """Rank 1 frozen, SIGTERM to rank 0 with --stop-deadline 2: rank 0 ends
    on time and the previous snapshot resumes byte-identically."""
    ranks, deadline = 2, 2
    artifact = compile_for(args, work, ranks)
    whole = uninterrupted(args, work, artifact, ranks)
    run = os.path.join(work, 'deadline')
    extra = ['--snapshot-every', '500', '--stop-deadline', str(deadline)]
    procs = launch(args, train_command(args, artifact, run, extra), ranks)
    pids = started(procs, run, args)
    os.kill(pids[1], signal.SIGSTOP)
    sent = time.time()
    os.kill(pids[0], signal.SIGTERM)
    try:
        if args.launcher == 'tcp':
            procs[0].wait(timeout=deadline + 10)
        else:
            # mpirun ends the job when rank 0 fails; the frozen rank takes
            # its SIGTERM once it runs again.
            while rank_of(pids[0]) is not None and time.time() < sent + deadline + 10:
                time.sleep(0.01)
    except subprocess.TimeoutExpired:
        pass
    took = time.time() - sent
    os.kill(pids[1], signal.SIGKILL)
    codes, output = finish(procs)
    if took > deadline + 1 or 'the stop did not finish within --stop-deadline' not in output \
            or codes[0] != 1:
        return 'rank 0 ended %.2f s after SIGTERM (deadline %d s), codes %s:\n%s' % (
            took, deadline, codes, output)
    snapshots = sorted(os.listdir(os.path.join(run, 'snapshots')))
    failure = resumed_identical(args, artifact, ranks, whole, run, extra)
    if failure:
        return failure
    print('2 ranks (%s), rank 1 frozen, SIGTERM to rank 0 with --stop-deadline %d: rank 0 ended '
          'with status 1 %.2f s after the signal; resumed from %s, params and state '
          'byte-identical' % (args.launcher, deadline, took, snapshots[-1]))
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
        cases = [(2, signal.SIGTERM, [1]), (3, signal.SIGUSR1, [0, 1, 2])]
        if args.launcher == 'mpirun':
            cases.append((2, signal.SIGTERM, 'launcher'))
        for ranks, sig, targets in cases:
            failure = case(args, work, ranks, sig, targets)
            if failure:
                print('FAIL: %d ranks (%s): %s' % (ranks, args.launcher, failure))
                return 1
        failure = deadline_case(args, work)
        if failure:
            print('FAIL: --stop-deadline (%s): %s' % (args.launcher, failure))
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
