#!/usr/bin/python3
"""The ResNets against PyTorch and torchvision (Debian's python3-torch and
python3-torchvision).

  check-resnet.py step --model models/resnet20-fm-sup.json --kiln BUILD/bin/kiln --work DIR
  check-resnet.py export --kiln BUILD/bin/kiln --source-dir . --work DIR

step: one training step of the model at --batch (2) on random images,
kiln (`kiln run --grads`) against the same network in PyTorch (double)
started from kiln's initial parameters and state (loaded with
strict=True, so the names are PyTorch's): the loss, every gradient, every
updated parameter (SGD, momentum 0.9, weight decay 5e-4, lr 0.1) and every
running statistic and num_batches_tracked, per tensor as
max|kiln - ref| / max|ref| within --tolerance. A ReLU input within f32
rounding of 0 may fall on either side in kiln and the gradients upstream
of it then differ by up to 1e-2: the reference tries both sides of each
input within --ambiguous (1e-5 relative to its tensor's largest), chosen
greedily, and kiln must match the reference for one choice.

export: two steps of resnet18-fm-sup (`kiln train`), `kiln export`, and a
torchvision.models.resnet18 whose conv1 takes one channel (3x3, stride 1)
and whose max-pool is the identity (the graph's small-image stem) loads the
file with strict=True; its eval-mode logits on 64 random images must equal
kiln's evaluation entry's (`kiln run --program eval`) within 1e-5 relative.

Exit status 0 when all agree, 1 otherwise, 77 (skipped) without torch or
torchvision.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))
from safetensors_entries import entries, write as write_entries  # noqa: E402
from torch_resnets import cifar_resnet, small_stem_resnet  # noqa: E402

DTYPES = {'F32': np.float32, 'I32': np.int32}


def read(path):
    return {name: np.frombuffer(raw, dtype=DTYPES[dtype]).reshape(shape).copy()
            for name, dtype, shape, raw in entries(path)}


def write(path, tensors):
    write_entries(path, {name: np.ascontiguousarray(t) for name, t in tensors.items()})


def network_of(torch, torchvision, model_json):
    args = json.load(open(model_json))['networks']['net']
    a = args['args']
    if args['module'] == 'cifar_resnet':
        return cifar_resnet(torch, a.get('n', 3), a['in_channels'], a['classes'])
    layers = (a.get('l1', 2), a.get('l2', 2), a.get('l3', 2), a.get('l4', 2))
    name = {((2, 2, 2, 2), 0): 'resnet18', ((3, 4, 6, 3), 0): 'resnet34',
            ((3, 4, 6, 3), 1): 'resnet50'}[(layers, a.get('bottleneck', 0))]
    assert a.get('small_stem', 0) == 1, 'the checks use the small-image stem'
    return small_stem_resnet(torch, torchvision, name, a['in_channels'], a['classes'])


def load_kiln(torch, net, tensors):
    """kiln's tensors (net.NAME) into `net`, strictly: every name PyTorch's."""
    sd = {}
    for name, t in tensors.items():
        assert name.startswith('net.'), name
        sd[name[len('net.'):]] = torch.from_numpy(np.array(t))
    net.load_state_dict(sd, strict=True)


class Comparison:
    def __init__(self, tolerance):
        self.tolerance, self.worst, self.count, self.failures = tolerance, 0.0, 0, []

    def __call__(self, what, mine, theirs):
        mine, theirs = np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
        if mine.size != theirs.size:
            self.failures.append('%s: kiln %s, reference %s' % (what, mine.shape, theirs.shape))
            return
        err = float(np.max(np.abs(mine.reshape(theirs.shape) - theirs)) /
                    max(np.max(np.abs(theirs)), 1e-30))
        self.count += 1
        self.worst = max(self.worst, err)
        if not err <= self.tolerance:
            self.failures.append('%s: relative error %.3g' % (what, err))

    def report(self, title):
        print('%s: %d tensors compared, worst relative error %.3g' % (title, self.count, self.worst))
        for f in self.failures:
            print('  MISMATCH ' + f)
        return 1 if self.failures else 0


class AmbiguousRelu:
    """F.relu that records the pre-activations within `tau` (relative to
    their tensor's largest) of 0, and flips the masks of chosen ones: at
    those, f32 and double may take either side, and the gradient upstream
    changes with the side taken."""

    def __init__(self, torch, tau):
        self.torch, self.tau, self.calls, self.found, self.flips = torch, tau, 0, [], set()

    def __call__(self, x, inplace=False):
        call, self.calls = self.calls, self.calls + 1
        flat = x.detach().reshape(-1)
        # (an exact 0 is 0 in f32 too: no side to choose)
        near = ((flat.abs() < self.tau * flat.abs().max()) & (flat != 0)).nonzero().reshape(-1).tolist()
        self.found += [(call, j) for j in near]
        mask = (flat > 0).clone()
        for c, j in self.flips:
            if c == call:
                mask[j] = not bool(mask[j])
        return x * mask.reshape(x.shape).to(x.dtype)


def reference_step(torch, net, start, image, label, lr):
    """One SGD step of `net` from the state dict `start`: the loss, the
    gradients and the state dict after it."""
    net.load_state_dict(start)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(image).double()),
                                             torch.from_numpy(label).long())
    loss.backward()
    grads = {'net.' + n: p.grad.numpy().copy() for n, p in net.named_parameters()}
    opt.step()
    return loss.item(), grads, {n: t.numpy().copy() for n, t in net.state_dict().items()}


def step(args, torch, torchvision):
    work, lr = args.work, 0.1
    os.makedirs(work, exist_ok=True)
    artifact = os.path.join(work, 'model.kiln')
    subprocess.run([args.kiln, 'compile', args.model, '-o', artifact, '--batch-size', str(args.batch),
                    '--quiet'], check=True)
    params = read(os.path.join(artifact, 'params.safetensors'))
    state = {n: t for n, t in read(os.path.join(artifact, 'state.safetensors')).items()
             if n.startswith('net.')}
    rng = np.random.default_rng(0)
    image = rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)
    label = rng.integers(0, 10, args.batch).astype(np.int32)
    write(os.path.join(work, 'batch.safetensors'), {'image': image, 'label': label})
    out = os.path.join(work, 'out.safetensors')
    subprocess.run([args.kiln, 'run', artifact, '--inputs', os.path.join(work, 'batch.safetensors'),
                    '--grads', '--threads', '1', '--schedule', 'lr=%g' % lr, '--outputs', out],
                   check=True, stdout=subprocess.DEVNULL)
    got = read(out)

    net = network_of(torch, torchvision, args.model).double()
    load_kiln(torch, net, {**params, **state})
    start = {n: t.clone() for n, t in net.state_dict().items()}
    relu = AmbiguousRelu(torch, args.ambiguous)
    torch.nn.functional.relu = relu  # torchvision's nn.ReLU and the CIFAR blocks call it

    def compared(flips):
        relu.flips, relu.calls = set(flips), 0
        loss, grads, after = reference_step(torch, net, start, image, label, lr)
        compare = Comparison(args.tolerance)
        compare('loss', got['loss'], loss)
        for n, g in grads.items():
            compare('gradient of ' + n, got['gradient.' + n], g)
        for n, t in after.items():
            kind = 'param.' if 'net.' + n in params else 'state.'
            compare('updated ' + n, got[kind + 'net.' + n], t)
        return compare

    # A pre-activation within --ambiguous of 0 may fall either side in f32:
    # kiln must match the double reference for some choice of those sides.
    # Each side moves the gradients by its own amount, so the choice is
    # built greedily: the flip that lowers the worst error most, while one
    # does.
    best = compared([])
    ambiguous, chosen = list(relu.found), []
    while best.worst > args.tolerance:
        trials = [(compared(chosen + [a]), a) for a in ambiguous if a not in chosen]
        if not trials:
            break
        c, a = min(trials, key=lambda ca: ca[0].worst)
        if c.worst >= best.worst:
            break
        best, chosen = c, chosen + [a]
    print('%d ReLU inputs within %g of 0 (relative to their tensor); the sides matching kiln: %d flipped'
          % (len(ambiguous), args.ambiguous, len(chosen)))
    return best.report('%s, one step at batch %d' % (os.path.basename(args.model), args.batch))


def export(args, torch, torchvision):
    work = args.work
    os.makedirs(work, exist_ok=True)
    model = os.path.join(args.source_dir, 'models', 'resnet18-fm-sup.json')
    run = os.path.join(work, 'run')
    subprocess.run([args.kiln, 'train', model, '--steps', '2', '--batch-size', '16', '--threads', '2',
                    '--data', 'synthetic:64', '--out', run, '--quiet', '--overwrite'], check=True)
    weights = os.path.join(work, 'resnet18.safetensors')
    subprocess.run([args.kiln, 'export', run, '-o', weights], check=True, stderr=subprocess.DEVNULL)
    net = small_stem_resnet(torch, torchvision, 'resnet18', 1, 10)
    # strict=True: every torchvision name (running statistics and
    # num_batches_tracked included) and nothing else.
    net.load_state_dict({n: torch.from_numpy(t) for n, t in read(weights).items()}, strict=True)
    net.eval()
    # The evaluation entry takes its whole batch; the artifact's is 500.
    images = np.random.default_rng(1).standard_normal((500, 1, 28, 28)).astype(np.float32)
    write(os.path.join(work, 'images.safetensors'), {'image': images})
    out = os.path.join(work, 'eval.safetensors')
    subprocess.run([args.kiln, 'run', os.path.join(run, 'model.kiln'), '--program', 'eval',
                    '--inputs', os.path.join(work, 'images.safetensors'),
                    '--params', os.path.join(run, 'params.safetensors'),
                    '--state', os.path.join(run, 'state.safetensors'), '--outputs', out],
                   check=True, stdout=subprocess.DEVNULL)
    with torch.no_grad():
        logits = net(torch.from_numpy(images)).numpy()
    compare = Comparison(1e-5)
    compare('eval logits', read(out)['output.logits'], logits)
    return compare.report('resnet18-fm-sup export into torchvision (strict)')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('check', choices=['step', 'export'])
    ap.add_argument('--kiln', required=True)
    ap.add_argument('--model')
    ap.add_argument('--source-dir')
    ap.add_argument('--work', required=True)
    ap.add_argument('--tolerance', type=float, default=1e-4)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--ambiguous', type=float, default=1e-5,
                    help='pre-activations this close to 0 (relative) may take either side')
    args = ap.parse_args()
    try:
        import torch
        import torchvision
    except ImportError:
        print('skipped: %s has no torch or torchvision (apt-get install python3-torchvision)'
              % sys.executable)
        return 77
    torch.set_num_threads(2)
    return step(args, torch, torchvision) if args.check == 'step' else export(args, torch, torchvision)


if __name__ == '__main__':
    sys.exit(main())
