"""Data-parallel runs agree with one rank: trains MODEL for a few steps at
world size 1 and at each given world size under mpirun, with the same
global batch, and compares every parameter (the EMA teacher included) and
state tensor (the optimizer moments, the DINO centre).

    check-world-sizes.py KILN MODEL.json --world-sizes 2 4 [--steps 5]
        [--sgd LR] [--adamw-lr LR] [--launcher mpirun|tcp]

--launcher tcp starts the ranks itself with torchrun-style variables
(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) instead of mpirun.
--all-reduce-precision bf16 compiles every run, world size 1 too, with
the gradients averaged in bf16 (then --bound is what bf16's rounding of
the averaged gradients allows). --shard-optimizer compiles the runs at the
given world sizes (1 may be one of them) with gradients and optimizer
state sharded over the ranks; the world size 1 reference is not.

Per tensor the relative error is max|a - b| / max|b| (b: world size 1);
the bound is 1e-5. Summation order differs between world sizes, so
gradients agree to rounding; SGD keeps that (--sgd LR swaps the graph's
optimizer for SGD with momentum, clipping and freezing kept). AdamW does
not: it divides each gradient element by its own magnitude, so an element
whose gradient is rounding noise (the attention key bias's is zero
analytically: softmax ignores a shift) moves by up to lr a step in a
direction rounding picks, in any engine. With --adamw-lr LR such elements
(|a - b| <= 2·LR·steps) are counted instead, and may be at most 0.5% of
all. Exit 0 when all agree, 1 otherwise, 77 (skip) without mpirun.
"""
import argparse
import array
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'pylib'))
from ranks import run_ranks  # noqa: E402
from safetensors_entries import entries  # noqa: E402


def read_f32(path):
    out = {}
    for name, dtype, _, raw in entries(path):
        if dtype == 'F32':
            out[name] = array.array('f', raw)
    return out


def train(args, ranks, out, shard=False):
    cmd = [args.kiln, 'train', args.model, '--steps', str(args.steps), '--batch-size',
           str(args.batch), '--data', 'synthetic:%d' % args.images, '--out', out,
           '--threads', '1', '--quiet'] + (['--shard-optimizer'] if shard else [])
    if args.all_reduce_precision:
        cmd += ['--all-reduce-precision', args.all_reduce_precision]
    run_ranks(cmd, ranks, args.launcher, args.mpirun)
    tensors = read_f32(os.path.join(out, 'params.safetensors'))
    state = os.path.join(out, 'state.safetensors')
    if os.path.exists(state):
        tensors.update({'state:' + k: v for k, v in read_f32(state).items()})
    return tensors


def sgd_copy(model, lr, work):
    """MODEL with SGD (momentum 0.9) for its optimizer, beside a copy of its lib/."""
    g = json.load(open(model))
    g['optimizer'].update({'kind': 'sgd', 'lr': lr, 'momentum': 0.9})
    for key in ('betas', 'eps'):
        g['optimizer'].pop(key, None)
    shutil.copytree(os.path.join(os.path.dirname(model), 'lib'), os.path.join(work, 'lib'))
    path = os.path.join(work, os.path.basename(model).replace('.json', '-sgd.json'))
    json.dump(g, open(path, 'w'))
    return path


def compare(a, b, bound, noise):
    """(relative error, elements exempt as AdamW noise) of one tensor."""
    scale = max(max(abs(x) for x in b), 1e-30)
    exempt, worst = 0, 0.0
    for x, y in zip(a, b):
        d = abs(x - y)
        if d > bound * scale and d <= noise:
            exempt += 1
        else:
            worst = max(worst, d / scale)
    return worst, exempt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('model')
    ap.add_argument('--world-sizes', type=int, nargs='+', default=[2, 4])
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--images', type=int, default=512)
    ap.add_argument('--bound', type=float, default=1e-5)
    ap.add_argument('--sgd', type=float)
    ap.add_argument('--adamw-lr', type=float)
    ap.add_argument('--launcher', choices=['mpirun', 'tcp'], default='mpirun')
    ap.add_argument('--all-reduce-precision', choices=['f32', 'bf16'])
    ap.add_argument('--shard-optimizer', action='store_true')
    args = ap.parse_args()
    args.mpirun = shutil.which('mpirun')
    if not args.mpirun and args.launcher == 'mpirun':
        print('SKIP: no mpirun (apt-get install openmpi-bin)')
        return 77
    work = tempfile.mkdtemp(prefix='kiln-world-sizes-')
    try:
        if args.sgd:
            args.model = sgd_copy(args.model, args.sgd, work)
        noise = 2 * args.adamw_lr * args.steps if args.adamw_lr else 0.0
        ref = train(args, 1, os.path.join(work, 'ws1'))
        for n in args.world_sizes:
            got = train(args, n, os.path.join(work, 'ws%d%s' % (n, '-sharded' * args.shard_optimizer)),
                        args.shard_optimizer)
            if set(got) != set(ref):
                print('world size %d: tensors differ: %s' % (n, sorted(set(got) ^ set(ref))))
                return 1
            errors, exempt, elements = [], 0, 0
            for name, b in ref.items():
                worst, n_exempt = compare(got[name], b, args.bound, noise)
                errors.append((worst, name))
                exempt += n_exempt
                elements += len(b)
            errors.sort(reverse=True)
            print('world size %d (%s%s) vs 1 (%s, %d steps, global batch %d): worst %.2e (%s), '
                  'median %.2e over %d tensors' % (n, args.launcher,
                                                  ', sharded' if args.shard_optimizer else '',
                                                  os.path.basename(args.model),
                                                  args.steps,
                                                  args.batch, errors[0][0], errors[0][1],
                                                  errors[len(errors) // 2][0], len(errors)))
            if noise:
                print('  %d of %d elements (%.3f%%) differ by AdamW noise (<= %.1e)'
                      % (exempt, elements, 100.0 * exempt / elements, noise))
            bad = [e for e in errors if e[0] > args.bound]
            for e, name in bad[:10]:
                print('  %s: %.2e > %.0e' % (name, e, args.bound))
            if bad or exempt > 0.005 * elements:
                return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
