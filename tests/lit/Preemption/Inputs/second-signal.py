"""Stops a run with SIGNAL, sends SIGNAL again while the stop's snapshot is
being written, and checks that the second signal ended the process at once
(killed by it, within a second), that the snapshot it cut short is not
among the snapshots and the periodic one before it is, and that --resume
goes on from that one to STEPS (the lit test compares the final files).

  second-signal.py KILN ARTIFACT RUNDIR SIGNAL STEPS
"""
import os
import signal
import subprocess
import sys
import time

kiln, artifact, run, name, steps = sys.argv[1:6]
sig = getattr(signal, 'SIG' + name)
common = [kiln, 'train', artifact, '--steps', steps, '--epochs', '100', '--data', 'synthetic:6400',
          '--threads', '1', '--quiet', '--no-eval', '--snapshot-every', '20', '--out', run]
snapshots = os.path.join(run, 'snapshots')
periodic = 'step-000000020.safetensors'


def listing():
    try:
        return sorted(os.listdir(snapshots))
    except OSError:
        return []


def poll(p, ready, what):
    end = time.time() + 60
    while not ready():
        if p.poll() is not None or time.time() > end:
            sys.exit('FAIL: the run ended (status %s) or a minute passed before %s'
                     % (p.returncode, what))
        time.sleep(0.0005)


p = subprocess.Popen(common, stderr=subprocess.PIPE, text=True)
poll(p, lambda: periodic in listing() and not any('.tmp-' in f for f in listing()),
     'the periodic snapshot was written')
p.send_signal(sig)
poll(p, lambda: any('.tmp-' in f for f in listing()), "the stop's snapshot was begun")
p.send_signal(sig)
sent = time.time()
p.wait()
took = time.time() - sent
err = p.stderr.read()
left = listing()
whole = [f for f in left if '.tmp-' not in f]
if p.returncode != -sig or took > 1.0:
    sys.exit('FAIL: status %d %.2f s after the second signal:\n%s' % (p.returncode, took, err))
if whole != [periodic]:
    sys.exit('FAIL: the snapshots after the second signal are %s' % left)
print('the second SIG%s ended the process (killed by it) %.3f s after it, during the snapshot '
      'write; snapshots: %s' % (name, took, ', '.join(whole)))
resumed = subprocess.run([a for a in common if a != '--quiet'] + ['--resume'],
                         stderr=subprocess.PIPE, text=True)
if resumed.returncode != 0:
    sys.exit('FAIL: the resume: status %d\n%s' % (resumed.returncode, resumed.stderr))
print('\n'.join(line for line in resumed.stderr.splitlines() if line.startswith('kiln train:')))
print('left over: %s' % [f for f in listing() if '.tmp-' in f])
