"""A run interrupted at random moments and resumed each time ends with
parameters and state bit-identical to an uninterrupted run.

    check-resume.py KILN MODEL.json [--kills 4] [--steps 120] [--seed 1]
                    [--stop-signals TERM,INT,USR1]

Trains the model (batch 32, synthetic data, a snapshot every 5 steps) once
uninterrupted, then again with `--resume`, killing the process after a
random delay up to `--kills` times (each kill lands while it trains or
writes a snapshot; at least one must), then lets it finish; compares
params.safetensors and state.safetensors byte for byte.

With --stop-signals the interruptions are those signals in turn instead of
SIGKILL, each aimed at a phase of the run in turn: a step (a random delay),
an evaluation (when metrics.jsonl gains an epoch's last step) and a
periodic snapshot (when its temporary file appears). Each must end the run
cleanly (status 75, summary.json naming the signal and the phase it came
in); rounds of stops and the final comparison repeat until each phase has
been hit, at most --rounds times.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PHASES = ('step', 'evaluation', 'snapshot')


def wait_for(p, ready, limit=20.0):
    """Polls `ready()` every millisecond while `p` runs: True once it holds."""
    end = time.time() + limit
    while p.poll() is None and time.time() < end:
        if ready():
            return True
        time.sleep(0.001)
    return False


def snapshot_being_written(run):
    folder = os.path.join(run, 'snapshots')
    try:
        return any('.tmp-' in name for name in os.listdir(folder))
    except OSError:
        return False


def epoch_just_ended(run, per_epoch, seen):
    """metrics.jsonl's last line is an epoch's last step not seen before:
    the evaluation after it has started."""
    try:
        lines = open(os.path.join(run, 'metrics.jsonl')).read().splitlines()
    except OSError:
        return False
    if not lines:
        return False
    last = json.loads(lines[-1])
    step = last.get('step', 0)
    if 'loss' in last and step % per_epoch == 0 and step not in seen:
        seen.add(step)
        return True
    return False


def kill_rounds(train, killed, duration, args, rng):
    """SIGKILL after random delays; returns what landed (at least one)."""
    kills = []
    for _ in range(args.kills):
        p = subprocess.Popen(train + ['--out', killed, '--resume'], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # Four kills within one run's length: each lands before the end.
        delay = rng.uniform(0.3, 0.9) * duration / args.kills
        time.sleep(delay)
        if p.poll() is not None:
            # Each resume has fewer steps left, and a loaded machine makes
            # the first run's length a poor guide: the run ended first, so
            # no later kill can land either.
            print('the run finished before kill %d (after %.2f s)' % (len(kills) + 1, delay))
            break
        p.kill()
        p.wait()
        # A kill that lands before the run made its directory leaves none.
        snapDir = os.path.join(killed, 'snapshots')
        snaps = sorted(os.listdir(snapDir)) if os.path.isdir(snapDir) else []
        kills.append('%.2f s (newest snapshot %s)' % (delay, snaps[-1] if snaps else 'none'))
    if kills:
        print('killed with SIGKILL after ' + ', '.join(kills))
    return kills


def stop_rounds(train, killed, duration, args, rng, hit):
    """Stop signals aimed at each phase in turn until the run ends; each
    must stop cleanly. Adds the phases hit to `hit`; False on a failure."""
    names = args.stop_signals.split(',')
    per_epoch = 1280 // 32
    evaluated = set()
    for attempt in range(args.steps):
        aim = PHASES[attempt % len(PHASES)]
        name = names[attempt % len(names)]
        p = subprocess.Popen(train + ['--out', killed, '--resume'], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        if aim == 'step':
            landed = not wait_for(p, lambda: False, rng.uniform(0.1, 0.6) * duration)
        elif aim == 'snapshot':
            landed = wait_for(p, lambda: snapshot_being_written(killed))
        else:
            landed = wait_for(p, lambda: epoch_just_ended(killed, per_epoch, evaluated))
        sent = time.time()
        if landed and p.poll() is None:
            p.send_signal(getattr(signal, 'SIG' + name))
        err = p.communicate()[1]
        taken = time.time() - sent
        if p.returncode == 0:
            print('the run finished before SIG%s aimed at a %s' % (name, aim))
            return True
        summary = json.load(open(os.path.join(killed, 'summary.json')))
        if p.returncode != 75 or summary.get('stopped_by_signal') != getattr(signal, 'SIG' + name):
            print('FAIL: SIG%s aimed at a %s: status %d, summary %s, stderr:\n%s'
                  % (name, aim, p.returncode, summary, err))
            return False
        phase = summary['stop_received_during']
        hit.add(phase)
        print('SIG%s aimed at a %s came during the %s; stopped after step %d, %.3f s after the '
              'signal (%.3f s by the summary)' % (name, aim, phase, summary['steps'], taken,
                                                 summary['stop_seconds']))
    print('FAIL: the run never finished')
    return False


def same_as_whole(whole, killed):
    for name in ('params.safetensors', 'state.safetensors'):
        a = open(os.path.join(whole, name), 'rb').read()
        b = open(os.path.join(killed, name), 'rb').read()
        if a != b:
            print('FAIL: %s differs from the uninterrupted run\'s' % name)
            return False
        print('%s: %d bytes, identical to the uninterrupted run\'s' % (name, len(a)))
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('model')
    ap.add_argument('--kills', type=int, default=4)
    ap.add_argument('--steps', type=int, default=120)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--stop-signals', help='TERM,INT,USR1: stop cleanly instead of SIGKILL')
    ap.add_argument('--rounds', type=int, default=4)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix='kiln-resume-')
    try:
        artifact = os.path.join(work, 'model.kiln')
        subprocess.run([args.kiln, 'compile', args.model, '--batch-size', '32', '-o', artifact,
                        '--quiet'], check=True)
        train = [args.kiln, 'train', artifact, '--steps', str(args.steps), '--data', 'synthetic:1280',
                 '--threads', '2', '--quiet', '--snapshot-every', '5']
        # A fresh run with --resume says where it looked.
        fresh = os.path.join(work, 'fresh')
        said = subprocess.run([args.kiln, 'train', artifact, '--steps', '1', '--data',
                               'synthetic:1280', '--out', fresh, '--resume'],
                              check=True, capture_output=True, text=True).stderr
        if 'no snapshot in %s/snapshots: starting fresh' % fresh not in said:
            print('FAIL: a fresh --resume run does not name its run directory:\n' + said)
            return 1
        whole = os.path.join(work, 'whole')
        start = time.time()
        subprocess.run(train + ['--out', whole], check=True, capture_output=True)
        duration = time.time() - start
        rng = random.Random(args.seed)
        if not args.stop_signals:
            killed = os.path.join(work, 'killed')
            if not kill_rounds(train, killed, duration, args, rng):
                print('FAIL: no kill landed while the run trained')
                return 1
            subprocess.run(train + ['--out', killed, '--resume'], check=True, capture_output=True)
            return 0 if same_as_whole(whole, killed) else 1
        hit = set()
        for round in range(args.rounds):
            stopped = os.path.join(work, 'stopped-%d' % round)
            if not stop_rounds(train, stopped, duration, args, rng, hit) or \
                    not same_as_whole(whole, stopped):
                return 1
            if hit.issuperset(PHASES):
                return 0
        print('FAIL: in %d rounds no stop came during a %s'
              % (args.rounds, ', '.join(sorted(set(PHASES) - hit))))
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
