#!/usr/bin/python3
"""One training step of a shipped model, kiln against the PyTorch reference.

  check-parity.py --obj {sup,sd,mtl,dino} --kiln BUILD/bin/kiln --model MODEL.json --work DIR

parity.py (../shared/reference, Debian's python3-torch) dumps one reference
step: parameters before, the exact batch, the loss, every gradient and the
parameters after the step (AdamW at the reference's lr of that iteration).
The same parameters and batch go through `kiln run` on the model compiled
for that batch; the loss, every gradient and every updated parameter must
agree within --tolerance, measured per tensor as max|kiln - ref| / max|ref|
(elementwise relative error is meaningless for entries near 0).
Exit status 0 when all agree, 1 otherwise, 77 (skipped) without torch.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))
from safetensors_entries import entries, write as write_entries  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared',
                         'reference')
DTYPES = {'F32': np.float32, 'I32': np.int32}


def read(path):
    return {name: np.frombuffer(raw, dtype=DTYPES[dtype]).reshape(shape)
            for name, dtype, shape, raw in entries(path)}


def write(path, tensors):
    write_entries(path, {name: np.ascontiguousarray(t) for name, t in tensors.items()})


# Reference batch tensor(s) -> kiln input, per objective (labels become
# i32; DINO's local crops are stacked view-major into one input).
INPUTS = {
    'sup': {'image': ['x'], 'label': ['y']},
    'sd': {'xa': ['xa'], 'xb': ['xb'], 'label': ['y']},
    'mtl': {'image': ['x'], 'label': ['y']},
    'dino': {'global1': ['crop0'], 'global2': ['crop1'], 'locals': ['crop2', 'crop3', 'crop4', 'crop5']},
}
# Schedules fed from the reference's step.json (the rest follow --iteration).
SCHEDULES = {'lr': 'lr', 'wd': 'weight_decay', 'teacher_momentum': 'teacher_momentum',
             'teacher_temp': 'teacher_temp'}


def kiln_name(obj, name):
    """The kiln parameter or state name of a reference tensor name."""
    if obj != 'dino':
        return 'param.net.' + name
    if name == 'center':
        return 'state.center'
    network = 'student'
    if name.startswith('teacher.'):
        network, name = 'teacher', name[len('teacher.'):]
    # weight_norm's g, frozen at 1 (norm_last_layer), is module state in kiln.
    kind = 'state' if name.endswith('weight_g') else 'param'
    return '%s.%s.%s' % (kind, network, name)


def model_for_parity(obj, model, work):
    """The model as parity.py runs it: DINO without stochastic depth."""
    if obj != 'dino':
        return model
    g = json.load(open(model))
    here = os.path.dirname(os.path.abspath(model))
    g['imports'] = [os.path.relpath(os.path.join(here, i), os.path.abspath(work)) for i in g['imports']]
    g['networks']['student']['args']['drop_path'] = 0
    path = os.path.join(work, 'model.json')
    json.dump(g, open(path, 'w'), indent=1)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--obj', choices=sorted(INPUTS), required=True)
    ap.add_argument('--kiln', required=True)
    ap.add_argument('--model', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--reference', default=os.environ.get('KILN_REFERENCE', REFERENCE))
    ap.add_argument('--tolerance', type=float, default=1e-4)
    args = ap.parse_args()
    try:
        import torch  # noqa: F401  (parity.py needs it)
    except ImportError:
        print('skipped: %s has no torch (apt-get install python3-torch)' % sys.executable)
        return 77
    if not os.path.exists(os.path.join(args.reference, 'parity.py')):
        print('skipped: no parity.py in %s (set KILN_REFERENCE)' % args.reference)
        return 77
    work = args.work
    os.makedirs(work, exist_ok=True)
    ref_dir = os.path.join(work, 'ref')
    subprocess.run([sys.executable, os.path.join(args.reference, 'parity.py'), 'dump', '--obj', args.obj,
                    '--out', ref_dir], check=True, stdout=subprocess.DEVNULL)
    info = json.load(open(os.path.join(ref_dir, 'step.json')))
    params = read(os.path.join(ref_dir, 'params.safetensors'))
    batch = read(os.path.join(ref_dir, 'batch.safetensors'))
    grads = read(os.path.join(ref_dir, 'grads.safetensors'))
    after = read(os.path.join(ref_dir, 'after.safetensors'))

    artifact = os.path.join(work, args.obj + '.kiln')
    subprocess.run([args.kiln, 'compile', model_for_parity(args.obj, args.model, work), '-o', artifact,
                    '--batch-size', str(info['batch'])], check=True, stderr=subprocess.DEVNULL)
    # Parameters and state (DINO: the teacher equals the student at step 0).
    state = {kiln_name(args.obj, n)[len('state.'):]: t for n, t in params.items()
             if kiln_name(args.obj, n).startswith('state.')}
    weights = {kiln_name(args.obj, n)[len('param.'):]: t for n, t in params.items()
               if kiln_name(args.obj, n).startswith('param.')}
    if args.obj == 'dino':
        for group in (weights, state):
            group.update({'teacher.' + n[len('student.'):]: t for n, t in group.items()
                          if n.startswith('student.')})
    write(os.path.join(work, 'params.safetensors'), weights)
    write(os.path.join(work, 'state.safetensors'), state)
    inputs = {}
    for kiln_input, ref_names in INPUTS[args.obj].items():
        t = np.concatenate([batch[n] for n in ref_names])
        inputs[kiln_input] = t.astype(np.int32) if kiln_input == 'label' else t
    write(os.path.join(work, 'batch.safetensors'), inputs)
    out_path = os.path.join(work, 'out.safetensors')
    command = [args.kiln, 'run', artifact, '--inputs', os.path.join(work, 'batch.safetensors'),
               '--params', os.path.join(work, 'params.safetensors'), '--grads', '--threads', '1',
               '--iteration', str(info['it']), '--outputs', out_path]
    if state:
        command += ['--state', os.path.join(work, 'state.safetensors')]
    for ours, theirs in SCHEDULES.items():
        if theirs in info:
            command += ['--schedule', '%s=%.10g' % (ours, info[theirs])]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    got = read(out_path)

    worst, failures, checked = 0.0, [], 0

    def compare(what, mine, theirs):
        nonlocal worst, checked
        theirs = theirs.astype(np.float64)
        err = float(np.max(np.abs(mine.astype(np.float64) - theirs)) / max(np.max(np.abs(theirs)), 1e-30))
        checked += 1
        worst = max(worst, err)
        if not err <= args.tolerance or mine.shape != theirs.shape:
            failures.append('%s: relative error %.3g' % (what, err))

    compare('loss', got['loss'], np.array(info['loss'], dtype=np.float32))
    for name, g in grads.items():
        key = 'gradient.' + kiln_name(args.obj, name)[len('param.'):]
        if key not in got:
            failures.append('%s: kiln has no gradient' % name)
            continue
        compare('gradient of ' + name, got[key], g)
    # AdamW's first step moves each entry by about lr·g/(|g| + eps): where the
    # reference gradient is within the gradient tolerance of 0 its sign, and
    # so the direction of the step, is not determined by gradients that
    # agree to that tolerance (a key bias's gradient is exactly 0 in exact
    # arithmetic and rounding noise in both engines). Those entries are
    # held to the step's size bound (2·lr) instead, and counted.
    undetermined = 0
    for name, p in after.items():
        key = kiln_name(args.obj, name)
        if name.endswith('weight_g'):
            continue  # frozen at 1 (norm_last_layer), state that no step writes
        if key not in got:
            failures.append('%s: kiln has no %s' % (name, key))
            continue
        mine, theirs = got[key].astype(np.float64), p.astype(np.float64)
        g = grads.get(name[len('teacher.'):] if name.startswith('teacher.') else name)
        loose = np.zeros(theirs.shape, dtype=bool)
        if g is not None:
            g = np.abs(g.astype(np.float64))
            loose = g <= args.tolerance * max(np.max(g), 1e-30)
            undetermined += int(np.sum(loose))
            if np.any(np.abs(mine - theirs)[loose] > 2 * info['lr']):
                failures.append('updated %s: an undetermined entry moved more than 2·lr' % name)
        compare('updated ' + name, np.where(loose, theirs, mine), theirs)
    print('%s: %d tensors compared (loss, %d gradients, %d updated parameters), worst relative error %.3g;'
          ' %d parameter entries with a gradient within the tolerance of 0 held to |step| <= 2·lr'
          % (args.obj, checked, len(grads), len(after), worst, undetermined))
    for f in failures:
        print('  MISMATCH ' + f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
