"""Snapshots of a sharded run (--shard-optimizer) are whole: a run resumes
from them unsharded, at another world size, and the other way round.

    check-resume-sharded.py KILN MODEL.json [--ranks 2] [--launcher mpirun|tcp]
        [--other-ranks 1 4] [--batch 32]

Trains MODEL (SGD, momentum 0.9; global batch --batch, synthetic data) for 40 steps
uninterrupted at --ranks N, sharded; then, at the same N, 20 steps sharded
resumed unsharded for 20 more, and 20 unsharded resumed sharded: both must
end byte for byte as the uninterrupted run (the reduce-scatter gives each
rank the bits the all-reduce would, and the snapshots hold the whole
state). Then 20 steps sharded at N resumed at each --other-ranks size
(sharded there when it is over 1): only the summation order changes, so
every tensor must agree within 1e-5 relative. Exit 77 (skip) without
mpirun for the mpirun launcher.
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'pylib'))
from ranks import run_ranks  # noqa: E402

import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location(
    'world_sizes', os.path.join(os.path.dirname(__file__), '..', 'distributed',
                                'check-world-sizes.py'))
world_sizes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(world_sizes)


def train(args, ranks, out, steps, shard, resume=False):
    cmd = [args.kiln, 'train', args.model, '--steps', str(steps), '--batch-size',
           str(args.batch), '--data', 'synthetic:768', '--out', out, '--threads', '1', '--quiet',
           '--snapshot-every', '10']
    cmd += (['--shard-optimizer'] if shard else []) + (['--resume'] if resume else [])
    run_ranks(cmd, ranks, args.launcher, args.mpirun)


def files(run):
    return {name: open(os.path.join(run, name), 'rb').read()
            for name in ('params.safetensors', 'state.safetensors')}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('model')
    ap.add_argument('--ranks', type=int, default=2)
    ap.add_argument('--other-ranks', type=int, nargs='*', default=[])
    ap.add_argument('--launcher', choices=['mpirun', 'tcp'], default='mpirun')
    ap.add_argument('--batch', type=int, default=32)
    args = ap.parse_args()
    args.mpirun = shutil.which('mpirun')
    if not args.mpirun and args.launcher == 'mpirun':
        print('SKIP: no mpirun (apt-get install openmpi-bin)')
        return 77
    work = tempfile.mkdtemp(prefix='kiln-resume-sharded-')
    try:
        args.model = world_sizes.sgd_copy(args.model, 0.05, work)
        whole = os.path.join(work, 'whole')
        train(args, args.ranks, whole, 40, True)
        expected = files(whole)
        failed = False
        for first, then in ((True, False), (False, True)):
            run = os.path.join(work, 'sharded-first' if first else 'unsharded-first')
            train(args, args.ranks, run, 20, first)
            train(args, args.ranks, run, 40, then, resume=True)
            got = files(run)
            what = '%d ranks: 20 steps %s, resumed %s for 20' % (
                args.ranks, 'sharded' if first else 'unsharded', 'sharded' if then else 'unsharded')
            same = got == expected
            print('%s: %s the uninterrupted sharded run' % (
                what, 'byte for byte' if same else 'DIFFERS from'))
            failed |= not same
        for n in args.other_ranks:
            run = os.path.join(work, 'to-%d' % n)
            train(args, args.ranks, run, 20, True)
            train(args, n, run, 40, n > 1, resume=True)
            got = world_sizes.read_f32(os.path.join(run, 'params.safetensors'))
            ref = world_sizes.read_f32(os.path.join(whole, 'params.safetensors'))
            got.update({'state:' + k: v for k, v in world_sizes.read_f32(
                os.path.join(run, 'state.safetensors')).items()})
            ref.update({'state:' + k: v for k, v in world_sizes.read_f32(
                os.path.join(whole, 'state.safetensors')).items()})
            if set(got) != set(ref):
                print('resumed at %d ranks: tensors differ: %s' % (n, sorted(set(got) ^ set(ref))))
                failed = True
                continue
            worst = max((world_sizes.compare(got[k], ref[k], 1e-5, 0.0)[0], k) for k in ref)
            print('20 steps sharded at %d ranks, resumed at %d%s: worst %.2e (%s)' % (
                args.ranks, n, ' sharded' if n > 1 else '', worst[0], worst[1]))
            failed |= worst[0] > 1e-5
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
