#!/usr/bin/python3
"""PyTorch reference trainer for kiln's supervised ResNets on Fashion-MNIST.

  train.py --model resnet20|resnet56|resnet18 [--epochs 3] [--steps N]
           [--threads 2] [--seed 0] [--out FILE.json] [--channels-last]
           [--checkpoint PATH [--checkpoint-every 100]]

The recipe of models/resnet20-fm-sup.json: (x/255 - 0.2860)/0.3530, random
28x28 crop of the 2-pixel zero-padded image + horizontal flip (p 0.5),
cross-entropy, SGD momentum 0.9, weight decay 5e-4 on every parameter,
batch 128 (last partial batch dropped: 468 steps per epoch), lr 0.1 cosine
to 0 per iteration (DINO's cosine_scheduler, no warmup). Evaluation: the
10000 test images in eval mode (running statistics), batch 500.

The step time is forward + backward + optimizer only; data loading and
augmentation are timed separately. Data: the IDX files of Debian's
fashion-mnist package (gzipped or not); nothing is downloaded.

train_objective.py (the SD, KD and DINO graphs) imports this file's data,
model, loop and result helpers.

--checkpoint PATH: the loop saves everything it needs to continue (step,
permutation, generator and global RNG states, the recipe's nets, optimizers
and other state, the losses and timings so far) to PATH every
--checkpoint-every steps and at the end of training (before evaluation);
a run started with an existing PATH resumes from it, bit for bit as if it
had not stopped (same --threads), and refuses a checkpoint of another run.
"""
import argparse
import datetime
import gzip
import json
import math
import os
import platform
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'pylib'))
from torch_resnets import cifar_resnet, small_stem_resnet  # noqa: E402

DATA = '/usr/share/datasets/fashion-mnist'
MEAN, STD = 0.2860, 0.3530
BATCH, EVAL_BATCH, PAD = 128, 500, 2
BASE_LR, FINAL_LR = 0.1, 0.0


# ----------------------------------------------------------------------------- data
def read_idx(path):
    """An IDX file (magic 0 0 dtype ndim, big-endian dims), gzipped or not."""
    if not os.path.exists(path) and os.path.exists(path + '.gz'):
        path += '.gz'
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        b = f.read()
    if b[0] != 0 or b[1] != 0:
        raise ValueError('%s: not an IDX file' % path)
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}
    dtype, nd = np.dtype(dtypes[b[2]]), b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    a = np.frombuffer(b, dtype=dtype, offset=4 + 4 * nd, count=int(np.prod(dims)))
    return a.reshape(dims).astype(dtype.newbyteorder('='), copy=True)


def load_fashion_mnist(root=DATA):
    def get(stem):
        return torch.from_numpy(read_idx(os.path.join(root, stem)))
    xtr, ytr = get('train-images-idx3-ubyte'), get('train-labels-idx1-ubyte').long()
    xte, yte = get('t10k-images-idx3-ubyte'), get('t10k-labels-idx1-ubyte').long()
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28), (xtr.shape, xte.shape)
    return xtr, ytr, xte, yte


def normalize(x_uint8):
    """uint8 (B, 1, H, W) -> float (B, 1, H, W), (x/255 - mean)/std."""
    return x_uint8.float().div_(255.0).sub_(MEAN).div_(STD)


def pad_crop_flip(x, gen, pad=PAD):
    """RandomCrop(28, padding=pad, fill=0) + RandomHorizontalFlip(0.5), batched.
    x: uint8 (B, H, W); returns uint8 (B, 1, H, W). Zero fill on raw pixels,
    i.e. black (as torchvision's RandomCrop before Normalize, and kiln)."""
    B, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
    flip = torch.rand(B, generator=gen) < 0.5
    rows = dy[:, None] + torch.arange(H)
    cols = dx[:, None] + torch.arange(W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    return xp[torch.arange(B)[:, None, None], rows[:, :, None], cols[:, None, :]].unsqueeze(1)


# ----------------------------------------------------------------------------- models
def cifar_model(n, classes=10):
    """The CIFAR ResNet-(6n+2) of models/lib/resnet.json on one channel:
    PyTorch defaults except every conv: kaiming normal, fan_out, relu (the
    graph's conv init). `classes` 0 leaves out fc (the 64 pooled features)."""
    net = cifar_resnet(torch, n, 1, classes or 10)
    if not classes:
        net.fc = nn.Identity()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
    return net


def build_model(name):
    if name in ('resnet20', 'resnet56'):
        return cifar_model({'resnet20': 3, 'resnet56': 9}[name])
    if name == 'resnet18':
        import torchvision
        # torchvision's constructor does its own init (kaiming fan_out convs,
        # BN 1/0, default Linear); the replaced stem gets the same conv init.
        net = small_stem_resnet(torch, torchvision, 'resnet18', 1, 10)
        nn.init.kaiming_normal_(net.conv1.weight, mode='fan_out', nonlinearity='relu')
        return net
    raise ValueError(name)


# ----------------------------------------------------------------------------- schedule
def cosine_schedule(base, final, total_iters):
    """DINO's cosine_scheduler without warmup: one value per iteration."""
    i = np.arange(total_iters)
    return final + 0.5 * (base - final) * (1 + np.cos(np.pi * i / total_iters))


# ----------------------------------------------------------------------------- eval
@torch.no_grad()
def evaluate(net, x, y, logits_of=None):
    """Test accuracy of `net` in eval mode (its mode is restored after);
    `logits_of` picks the logits from the output when it is not them."""
    was_training = net.training
    net.eval()
    correct = 0
    for s in range(0, x.shape[0], EVAL_BATCH):
        out = net(normalize(x[s:s + EVAL_BATCH].unsqueeze(1)))
        logits = out if logits_of is None else logits_of(out)
        correct += int((logits.argmax(1) == y[s:s + EVAL_BATCH]).sum())
    net.train(was_training)
    return correct / x.shape[0]


# ----------------------------------------------------------------------------- loop (train_objective.py too)
def fmt_time(s):
    s = int(max(s, 0))
    return '%d:%02d:%02d' % (s // 3600, s // 60 % 60, s % 60)


def add_common_args(ap):
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--steps', type=int, default=None, help='stop after N steps (timing)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None, help='result JSON')
    ap.add_argument('--data', default=DATA, help='directory of the IDX files')
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--no-eval', action='store_true', help='skip the test-set evaluation')
    ap.add_argument('--checkpoint', metavar='PATH', default=None,
                    help='save the training state to PATH (every --checkpoint-every steps and at the end '
                         'of training); resume from PATH if it exists')
    ap.add_argument('--checkpoint-every', type=int, default=100, metavar='N',
                    help='steps between checkpoints (0: only at the end of training)')


def setup(args):
    """Threads and seeds; returns the generator of shuffling and augmentation."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    return torch.Generator().manual_seed(args.seed)


CHECKPOINT_FORMAT = 'bench/resnet-torch checkpoint 1'


def save_checkpoint(path, ckpt):
    """torch.save to PATH.tmp, fsync, rename over PATH: a kill leaves the old file or the new one."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'wb') as f:
        torch.save(ckpt, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + '.tmp', path)
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself
    finally:
        os.close(fd)


def load_checkpoint(path, identity, state, gen):
    """The checkpoint in `path`, after loading `state`'s objects, `gen` and the
    global RNGs from it; exits if it is not one of the run `identity`."""
    try:
        ckpt = torch.load(path, weights_only=False)
    except Exception as e:
        raise SystemExit('%s: cannot read the checkpoint (%s: %s)' % (path, type(e).__name__, e))
    if not isinstance(ckpt, dict) or ckpt.get('format') != CHECKPOINT_FORMAT:
        raise SystemExit('%s: not a checkpoint of bench/resnet-torch' % path)
    saved = ckpt['identity']
    diff = ['%s %r there, %r here' % (k, saved.get(k), identity.get(k))
            for k in [*identity, *(k for k in saved if k not in identity)] if saved.get(k) != identity.get(k)]
    if diff:
        raise SystemExit('%s: checkpoint of another run (%s); remove it or pass another --checkpoint'
                         % (path, '; '.join(diff)))
    if ckpt['threads'] != torch.get_num_threads():
        print('WARNING: %s was written with %d threads, running %d: losses may differ in the last bits'
              % (path, ckpt['threads'], torch.get_num_threads()), file=sys.stderr)
    for name, obj in state.items():
        obj.load_state_dict(ckpt['state'][name])
    gen.set_state(ckpt['gen'])
    torch.set_rng_state(ckpt['torch_rng'])
    np.random.set_state(ckpt['numpy_rng'])
    return ckpt


def train_loop(args, n, steps_per_epoch, run_steps, gen, prepare, step, lr_at, state=None, identity=None):
    """Epochs of `steps_per_epoch` batches of BATCH from a permutation of n
    drawn from `gen` (the last partial batch dropped), up to `run_steps`.
    prepare(indices) -> batch is timed as data; step(batch, iteration,
    epoch) -> (loss, {metric: value}) as the train step. Progress lines on
    stderr every args.log_every steps; returns the timings and losses.
    With args.checkpoint: `state` ({name: object with state_dict and
    load_state_dict}: nets, optimizers, ...) and the loop's own state are
    saved there every args.checkpoint_every steps and after the last one;
    an existing checkpoint is resumed if its `identity` (the run's
    model and config; epochs, seed and batch are added here) is this one's."""
    state = state or {}
    identity = {**(identity or {}), 'epochs': args.epochs, 'seed': args.seed, 'batch': BATCH, 'n': n,
                'steps_per_epoch': steps_per_epoch}
    step_times, data_times, losses, resumed_at = [], [], [], []
    it, perm, wall0, rss0 = 0, None, 0.0, 0.0
    if args.checkpoint and os.path.exists(args.checkpoint):
        c = load_checkpoint(args.checkpoint, identity, state, gen)
        it, perm, wall0, rss0 = c['step'], c['perm'], c['train_wall'], c['rss_train']
        step_times, data_times, losses = c['step_times'], c['data_times'], c['losses']
        resumed_at = c['resumed_at'] + [it]
        print('resuming from %s: step %d of %d (epoch %d)%s' % (
            args.checkpoint, it, run_steps, c['epoch'], ', training done' if it >= run_steps else ''),
            file=sys.stderr, flush=True)
    start_it = it
    t_start = time.perf_counter()
    t_window, step_window = t_start, it
    for epoch in range(it // steps_per_epoch, args.epochs):
        if it >= run_steps:
            break
        if it % steps_per_epoch == 0:  # else resumed mid-epoch: the checkpoint's permutation
            perm = torch.randperm(n, generator=gen)
        for b in range(it % steps_per_epoch, steps_per_epoch):
            if it >= run_steps:
                break
            t0 = time.perf_counter()
            batch = prepare(perm[b * BATCH:(b + 1) * BATCH])
            t1 = time.perf_counter()
            lv, metrics = step(batch, it, epoch)
            t2 = time.perf_counter()
            data_times.append(t1 - t0)
            step_times.append(t2 - t1)
            losses.append(lv)
            if not math.isfinite(lv):
                print('non-finite loss at step %d' % it, file=sys.stderr)
                sys.exit(1)
            it += 1
            if it % args.log_every == 0 or it == run_steps:
                now = time.perf_counter()
                ips = BATCH * (it - step_window) / (now - t_window)
                t_window, step_window = now, it
                recent = losses[-args.log_every:]
                eta = (run_steps - it) * (now - t_start) / (it - start_it)
                extra = ''.join('  %s %.4f' % kv for kv in metrics.items())
                print('epoch %d step %5d/%d  loss %.4f (mean last %d %.4f)%s  lr %.5f  %.1f img/s  '
                      'step %.1f ms  data %.1f ms  ETA %s'
                      % (epoch, it, run_steps, lv, len(recent), sum(recent) / len(recent), extra,
                         lr_at[it - 1], ips, 1e3 * np.mean(step_times[-len(recent):]),
                         1e3 * np.mean(data_times[-len(recent):]), fmt_time(eta)),
                      file=sys.stderr, flush=True)
            if args.checkpoint and (it == run_steps or args.checkpoint_every > 0 and it % args.checkpoint_every == 0):
                save_checkpoint(args.checkpoint, {
                    'format': CHECKPOINT_FORMAT, 'identity': identity, 'threads': torch.get_num_threads(),
                    'step': it, 'epoch': epoch, 'perm': perm, 'gen': gen.get_state(),
                    'torch_rng': torch.get_rng_state(), 'numpy_rng': np.random.get_state(),
                    'state': {name: obj.state_dict() for name, obj in state.items()},
                    'losses': losses, 'step_times': step_times, 'data_times': data_times,
                    'train_wall': wall0 + time.perf_counter() - t_start, 'resumed_at': resumed_at,
                    'rss_train': max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)})
    return {'steps': it, 'step_times': step_times, 'data_times': data_times, 'losses': losses,
            'train_wall': wall0 + time.perf_counter() - t_start, 'resumed_at': resumed_at,
            'rss_train': max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)}


def result_record(args, model, nparams, total, run, evals, eval_s, config):
    """The result JSON: `evals` ({'test_accuracy': ..., ...}) after the
    losses, `config` after 'threads'; 'losses' last."""
    step_times, data_times, losses = run['step_times'], run['data_times'], run['losses']
    timed = step_times[10:] if len(step_times) > 10 else step_times
    mean_ms = 1e3 * float(np.mean(timed))
    return {
        'model': model,
        'parameters': nparams,
        'epochs': args.epochs,
        'steps': run['steps'],
        'steps_planned': total,
        'batch_size': BATCH,
        'final_train_loss': losses[-1],
        'final_train_loss_mean50': float(np.mean(losses[-50:])),
        'first_train_loss': losses[0],
        **evals,
        'step_ms_mean': mean_ms,
        'step_ms_median': 1e3 * float(np.median(timed)),
        'step_ms_p90': 1e3 * float(np.percentile(timed, 90)),
        'steps_timed': len(timed),
        'images_per_s': BATCH / (mean_ms / 1e3),
        'data_ms_mean': 1e3 * float(np.mean(data_times[10:] if len(data_times) > 10 else data_times)),
        'images_per_s_wall': BATCH * run['steps'] / run['train_wall'],
        'train_wall_s': run['train_wall'],
        'resumed_at': run['resumed_at'],
        'eval_s': eval_s,
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        'peak_rss_mb_train': run['rss_train'],
        'threads': args.threads,
        **config,
        'seed': args.seed,
        'torch': torch.__version__,
        'python': platform.python_version(),
        'machine': platform.machine(),
        'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        'losses': losses,
    }


def write_result(args, result):
    """--out gets the whole record; stdout the summary, without the per-step losses."""
    if args.out:
        d = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(d, exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
            f.write('\n')
    print(json.dumps({k: v for k, v in result.items() if k != 'losses'}, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--model', required=True, choices=['resnet20', 'resnet56', 'resnet18'])
    add_common_args(ap)
    ap.add_argument('--channels-last', action='store_true',
                    help='NHWC activations and weights (oneDNN convolutions without layout copies)')
    args = ap.parse_args()
    gen = setup(args)

    xtr, ytr, xte, yte = load_fashion_mnist(args.data)
    steps_per_epoch = xtr.shape[0] // BATCH  # 468: the last partial batch is dropped
    total = args.epochs * steps_per_epoch
    lr_at = cosine_schedule(BASE_LR, FINAL_LR, total)
    run_steps = total if args.steps is None else min(args.steps, total)

    net = build_model(args.model)
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)
    net.train()
    nparams = sum(p.numel() for p in net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=BASE_LR, momentum=0.9, weight_decay=5e-4)
    print('%s: %d parameters, %d epochs x %d steps = %d (running %d), batch %d, %d threads, torch %s'
          % (args.model, nparams, args.epochs, steps_per_epoch, total, run_steps, BATCH,
             args.threads, torch.__version__), file=sys.stderr)

    def prepare(idx):
        return normalize(pad_crop_flip(xtr[idx], gen)).contiguous(memory_format=layout), ytr[idx]

    def step(batch, it, epoch):
        xb, yb = batch
        for g in opt.param_groups:
            g['lr'] = float(lr_at[it])
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item(), {}  # synchronous on the CPU anyway

    run = train_loop(args, xtr.shape[0], steps_per_epoch, run_steps, gen, prepare, step, lr_at,
                     state={'net': net, 'opt': opt},
                     identity={'model': args.model, 'channels_last': args.channels_last})

    acc = eval_s = None
    if not args.no_eval:
        t0 = time.perf_counter()
        acc = evaluate(net, xte, yte)
        eval_s = time.perf_counter() - t0
        print('test accuracy %.4f (%d images, %.1f s)' % (acc, xte.shape[0], eval_s),
              file=sys.stderr)
    write_result(args, result_record(args, args.model, nparams, total, run, {'test_accuracy': acc},
                                     eval_s, {'channels_last': args.channels_last}))


if __name__ == '__main__':
    main()
