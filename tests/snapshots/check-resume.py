"""A run killed with SIGKILL at random moments and resumed each time ends
with parameters and state bit-identical to an uninterrupted run.

    check-resume.py KILN MODEL.json [--kills 4] [--steps 120] [--seed 1]

Trains the model (batch 32, synthetic data, a snapshot every 5 steps) once
uninterrupted, then again with `--resume`, killing the process after a
random delay up to `--kills` times (each kill lands while it trains or
writes a snapshot; at least one must), then lets it finish; compares params.safetensors and
state.safetensors byte for byte.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('model')
    ap.add_argument('--kills', type=int, default=4)
    ap.add_argument('--steps', type=int, default=120)
    ap.add_argument('--seed', type=int, default=1)
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
        killed = os.path.join(work, 'killed')
        rng = random.Random(args.seed)
        kills = []
        for _ in range(args.kills):
            p = subprocess.Popen(train + ['--out', killed, '--resume'], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            # Four kills within one run's length: each lands before the end.
            delay = rng.uniform(0.3, 0.9) * duration / args.kills
            time.sleep(delay)
            if p.poll() is not None:
                # Each resume has fewer steps left, and a loaded machine
                # makes the first run's length a poor guide: the run ended
                # first, so no later kill can land either.
                print('the run finished before kill %d (after %.2f s)' % (len(kills) + 1, delay))
                break
            p.kill()
            p.wait()
            # A kill that lands before the run made its directory leaves none.
            snapDir = os.path.join(killed, 'snapshots')
            snaps = sorted(os.listdir(snapDir)) if os.path.isdir(snapDir) else []
            kills.append('%.2f s (newest snapshot %s)' % (delay, snaps[-1] if snaps else 'none'))
        if not kills:
            print('FAIL: no kill landed while the run trained')
            return 1
        subprocess.run(train + ['--out', killed, '--resume'], check=True, capture_output=True)
        print('killed with SIGKILL after ' + ', '.join(kills))
        for name in ('params.safetensors', 'state.safetensors'):
            a = open(os.path.join(whole, name), 'rb').read()
            b = open(os.path.join(killed, name), 'rb').read()
            if a != b:
                print('FAIL: %s differs from the uninterrupted run\'s' % name)
                return 1
            print('%s: %d bytes, identical to the uninterrupted run\'s' % (name, len(a)))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
