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

With --precision bf16 the reference step runs under
torch.autocast('cpu', dtype=torch.bfloat16) and kiln compiles the model
with --precision bf16. The two round to bf16 in different places (CPU
autocast keeps layer norm, GELU and softmax in bf16 where kiln computes
them in f32), so they cannot agree to f32 accuracy. Each tensor is held to
a multiple of the distance e that bf16 puts between PyTorch's autocast
step and its f32 step: |kiln - autocast| <= 3 * max(e, 2^-8) (relative, as
above). Two computations that each sit about e from the f32 step, with
roundings in different places, are up to 2e apart when their errors add;
the largest seen over the four objectives is 1.5e, and 3e leaves room for
the maximum over a tensor. And kiln must really be in bf16: its distance
from the f32 step must be at least a quarter of autocast's, over the
gradients as a whole.
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


def dump(args, out, autocast):
    """parity.py's reference step into `out`, under bf16 autocast if asked."""
    command = [sys.executable, os.path.join(args.reference, 'parity.py'), 'dump', '--obj', args.obj,
               '--out', out]
    if autocast:
        command[1:2] = ['-c', 'import runpy, sys, torch\n'
                        'sys.argv = sys.argv[1:]\n'
                        'with torch.autocast("cpu", dtype=torch.bfloat16):\n'
                        '    runpy.run_path(sys.argv[0], run_name="__main__")',
                        os.path.join(args.reference, 'parity.py')]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


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
    ap.add_argument('--precision', choices=['f32', 'bf16'], default='f32')
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
    dump(args, ref_dir, autocast=False)
    info = json.load(open(os.path.join(ref_dir, 'step.json')))
    params = read(os.path.join(ref_dir, 'params.safetensors'))
    batch = read(os.path.join(ref_dir, 'batch.safetensors'))
    grads = read(os.path.join(ref_dir, 'grads.safetensors'))
    after = read(os.path.join(ref_dir, 'after.safetensors'))
    low = args.precision != 'f32'
    if low:
        # The f32 step above is the yardstick; the autocast one the reference.
        f32_info, f32_grads, f32_after = info, grads, after
        ref_dir = os.path.join(work, 'ref-' + args.precision)
        dump(args, ref_dir, autocast=True)
        info = json.load(open(os.path.join(ref_dir, 'step.json')))
        grads = read(os.path.join(ref_dir, 'grads.safetensors'))
        after = read(os.path.join(ref_dir, 'after.safetensors'))

    artifact = os.path.join(work, args.obj + '.kiln')
    subprocess.run([args.kiln, 'compile', model_for_parity(args.obj, args.model, work), '-o', artifact,
                    '--batch-size', str(info['batch']), '--precision', args.precision], check=True,
                   stderr=subprocess.DEVNULL)
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
    if args.obj == 'dino':
        # The reference's last_layer.weight_g is frozen at 1 (norm_last_layer)
        # and not in its parameters; kiln's starts at the same 1.
        command.append('--allow-partial')
    # The schedules the graph has (kiln run refuses others); the rest are
    # constants in the graph.
    manifest = json.load(open(os.path.join(artifact, 'manifest.json')))['manifest']
    scheduled = {s['name'] for s in manifest['schedules']}
    for ours, theirs in SCHEDULES.items():
        if theirs in info and ours in scheduled:
            command += ['--schedule', '%s=%.10g' % (ours, info[theirs])]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    got = read(out_path)

    worst, failures, checked = 0.0, [], 0
    low_distance = [0.0, 0.0]  # kiln's and autocast's squared distances from the f32 gradients

    def relative(mine, theirs):
        theirs = theirs.astype(np.float64)
        return float(np.max(np.abs(mine.astype(np.float64) - theirs)) / max(np.max(np.abs(theirs)), 1e-30))

    gradient_tolerance = {}

    def compare(what, mine, theirs, f32=None):
        """f32: the f32 step's tensor, which sets the tolerance in a low precision."""
        nonlocal worst, checked
        err = relative(mine, theirs)
        tolerance = args.tolerance if f32 is None else 3 * max(relative(theirs, f32), 2.0 ** -8)
        checked += 1
        worst = max(worst, err / tolerance)
        if not err <= tolerance or mine.shape != theirs.shape:
            failures.append('%s: relative error %.3g (tolerance %.3g)' % (what, err, tolerance))
        return tolerance

    compare('loss', got['loss'], np.array(info['loss'], dtype=np.float32),
            np.array(f32_info['loss'], dtype=np.float32) if low else None)
    for name, g in grads.items():
        key = 'gradient.' + kiln_name(args.obj, name)[len('param.'):]
        if key not in got:
            failures.append('%s: kiln has no gradient' % name)
            continue
        gradient_tolerance[name] = compare('gradient of ' + name, got[key], g,
                                           f32_grads[name] if low else None)
        if low:
            low_distance[0] += relative(got[key], f32_grads[name]) ** 2
            low_distance[1] += relative(g, f32_grads[name]) ** 2
    if low and not low_distance[0] >= low_distance[1] / 16:
        failures.append('kiln\'s gradients are %.3g from the f32 step, autocast\'s %.3g: kiln is not in %s'
                        % (low_distance[0] ** 0.5, low_distance[1] ** 0.5, args.precision))
    # AdamW's first step moves each entry by about lr·g/(|g| + eps): where the
    # reference gradient is within its gradient's tolerance of 0 its sign, and
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
        student = name[len('teacher.'):] if name.startswith('teacher.') else name
        g = grads.get(student)
        loose = np.zeros(theirs.shape, dtype=bool)
        if g is not None:
            g = np.abs(g.astype(np.float64))
            loose = g <= gradient_tolerance.get(student, args.tolerance) * max(np.max(g), 1e-30)
            undetermined += int(np.sum(loose))
            # (2·lr apart at most: a step each way, rounded to the parameters' f32)
            bound = 2 * info['lr'] + 4 * np.finfo(np.float32).eps * np.abs(theirs)
            if np.any((np.abs(mine - theirs) > bound)[loose]):
                failures.append('updated %s: an undetermined entry moved more than 2·lr' % name)
        compare('updated ' + name, np.where(loose, theirs, mine), theirs,
                f32_after[name] if low else None)
    print('%s%s: %d tensors compared (loss, %d gradients, %d updated parameters), worst at %.2f of its'
          ' tolerance; %d parameter entries with a gradient within its tolerance of 0 held to |step| <= 2·lr'
          % (args.obj, '' if not low else ' in ' + args.precision, checked, len(grads), len(after), worst,
             undetermined))
    if low:
        print('  gradients from the f32 step (root of the summed squared relative errors): kiln %.3g, '
              'autocast %.3g' % (low_distance[0] ** 0.5, low_distance[1] ** 0.5))
    for f in failures:
        print('  MISMATCH ' + f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
