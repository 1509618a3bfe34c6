"""Trains ARTIFACT into RUNDIR for STEPS steps, sends SIGNAL once the run
holds its directory and has trained a while, checks the clean stop (status
75, the message, summary.json's stopped_by_signal, fewer steps than asked),
then goes on with --resume to STEPS. Prints kiln's messages about the
stop and the step it stopped at. EXTRA options go to both runs.

  stop-and-resume.py KILN ARTIFACT RUNDIR SIGNAL STEPS [EXTRA...]
"""
import json
import os
import signal
import subprocess
import sys
import time

kiln, artifact, run, name, steps = sys.argv[1:6]
common = [kiln, 'train', artifact, '--steps', steps, '--epochs', '100', '--data', 'synthetic:6400',
          '--threads', '1', '--quiet', '--no-eval', '--out', run] + sys.argv[6:]
p = subprocess.Popen(common, stderr=subprocess.PIPE, text=True)
lock = os.path.join(run, 'run.lock')
for _ in range(300):
    if os.path.exists(lock) and os.path.getsize(lock) > 0:
        break
    time.sleep(0.05)
time.sleep(1.0)
p.send_signal(getattr(signal, 'SIG' + name))
err = p.communicate()[1]
summary = json.load(open(os.path.join(run, 'summary.json')))
if p.returncode != 75 or 'stopped by signal' not in err:
    sys.exit('FAIL: status %d, stderr:\n%s' % (p.returncode, err))
if summary.get('stopped_by_signal') != getattr(signal, 'SIG' + name) or summary['steps'] >= int(steps):
    sys.exit('FAIL: summary %s' % summary)
print('\n'.join(line for line in err.splitlines() if line.startswith('kiln train:')))
print('stopped after step %d of %s' % (summary['steps'], steps))
subprocess.run(common + ([] if '--resume' in common else ['--resume']), check=True)
