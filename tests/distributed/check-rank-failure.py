"""A rank that dies or stalls ends the whole job with an error, never a hang.

    check-rank-failure.py KILN MODEL.json --signal KILL|STOP [--launcher mpirun|tcp]

Starts a 2-rank training (1,000 steps, more than the test waits for), lets
it run a few steps, then sends SIGKILL or SIGSTOP to rank 1 and measures
how long the job takes to end. Passes when every other process has exited
non-zero within --comm-timeout + 60 s (a stopped rank launched without
mpirun, once continued, too) and the output says what happened:
for a stall, rank 0's "did not complete within N s" (over TCP possibly
"rank 1 sent nothing for N s"); for a death, that the rank died (mpirun's
report, or rank 0's "closed its connection").
Exit 77 (skip) without mpirun when it is needed.
"""
import argparse
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('model')
    ap.add_argument('--signal', choices=['KILL', 'STOP'], required=True)
    ap.add_argument('--launcher', choices=['mpirun', 'tcp'], default='mpirun')
    ap.add_argument('--comm-timeout', type=int, default=10)
    args = ap.parse_args()
    mpirun = shutil.which('mpirun')
    if args.launcher == 'mpirun' and not mpirun:
        print('SKIP: no mpirun (apt-get install openmpi-bin)')
        return 77
    work = tempfile.mkdtemp(prefix='kiln-rank-failure-')
    artifact = os.path.join(work, 'model.kiln')
    subprocess.run([args.kiln, 'compile', args.model, '--batch-size', '16', '-o', artifact],
                   check=True, capture_output=True)
    cmd = [args.kiln, 'train', artifact, '--steps', '1000', '--data', 'synthetic:20000',
           '--out', os.path.join(work, 'run'), '--threads', '1',
           '--comm-timeout', str(args.comm_timeout)]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    log = open(os.path.join(work, 'log'), 'w+')
    if args.launcher == 'mpirun':
        procs = [subprocess.Popen([mpirun, '--oversubscribe', '-n', '2'] + cmd, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)]
    else:
        port = str(free_port())
        procs = [subprocess.Popen(cmd, env=dict(env, RANK=str(r), WORLD_SIZE='2',
                                                MASTER_ADDR='127.0.0.1', MASTER_PORT=port),
                                  stdout=log, stderr=subprocess.STDOUT) for r in range(2)]
    victim = None
    try:
        # Wait for training to be under way on both ranks.
        deadline = time.time() + 120
        while time.time() < deadline and victim is None:
            time.sleep(0.5)
            if 'step' in open(log.name).read():
                victim = (procs[1].pid if args.launcher == 'tcp' else
                          next((p for p in kiln_pids(args.kiln, procs[0].pid) if rank_of(p) == 1),
                               None))
        if victim is None:
            print('training did not start:\n' + open(log.name).read())
            return 1
        time.sleep(2)
        os.kill(victim, getattr(signal, 'SIG' + args.signal))
        start = time.time()
        limit = args.comm_timeout + 60
        # mpirun ends its stopped rank itself; a stopped process launched
        # directly can only end once continued, so the others must end
        # first, and then it (seeing them gone).
        waited = procs if args.launcher == 'mpirun' else procs[:1]
        for p in waited:
            try:
                p.wait(timeout=max(1, limit - (time.time() - start)))
            except subprocess.TimeoutExpired:
                print('HANG: the job still runs %d s after rank 1 got SIG%s' % (limit, args.signal))
                return 1
        ended = time.time() - start
        if args.launcher == 'tcp':
            os.kill(victim, signal.SIGCONT)
            try:
                procs[1].wait(timeout=args.comm_timeout + 30)
            except subprocess.TimeoutExpired:
                print('HANG: rank 1, continued after the others ended, still runs')
                return 1
        output = open(log.name).read()
        codes = [p.returncode for p in procs]
        # A stall over TCP is seen first by whichever deadline ends first: the
        # wait's, or the socket's, which also names the silent rank.
        expected = (['did not complete within %d s' % args.comm_timeout,
                     'rank 1 sent nothing for %d s' % args.comm_timeout] if args.signal == 'STOP'
                    else ['signal 9'] if args.launcher == 'mpirun' else ['closed its connection'])
        print('rank 1 got SIG%s (%s): the job ended %.1f s later, exit codes %s'
              % (args.signal, args.launcher, ended, codes))
        for line in output.splitlines():
            if 'kiln' in line and ('rank' in line or 'signal' in line):
                print('  ' + line.strip())
        if any(c == 0 for c in codes if c is not None) or not any(e in output for e in expected):
            print('FAIL: expected a non-zero exit and one of %s in:\n%s' % (expected, output))
            return 1
        return 0
    finally:
        if victim is not None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(victim, sig)
                except OSError:
                    pass
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
