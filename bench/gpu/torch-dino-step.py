#!/usr/bin/env python3
"""The PyTorch reference's DINO train step on a GPU: eager and torch.compile.

Builds ref.py's DinoTrainer (the same ViT, head, loss, AdamW, clipping,
last-layer freezing and EMA teacher kiln's models/vit-fm-dino.json
describes), moves it to the device, and times steps on crops made
beforehand from random images (data excluded, as `kiln bench` does). One
JSON line per (mode, batch): median and 90th-percentile step time, images/s.

  torch-dino-step.py --ref ref.py [--device cuda] [--batch 128,512]
                     [--modes eager,compile] [--steps 30] [--warmup 5]
"""
import argparse
import importlib.util
import json
import math
import statistics
import sys
import time

import torch


def load_ref(path):
    spec = importlib.util.spec_from_file_location('ref', path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    # ref.py draws the stochastic-depth mask on the CPU (it runs there);
    # the same draw, on the activations' device.
    def drop_path(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x.div(keep) * (keep + torch.rand(shape, dtype=x.dtype, device=x.device)).floor_()
    ref.DropPath.forward = drop_path
    return ref


def time_steps(ref, device, batch, mode, steps, warmup):
    torch.manual_seed(0)
    niter = 1000
    tr = ref.DinoTrainer(2, niter, batch=batch, seed=0)
    for module in (tr.student, tr.teacher, tr.loss):
        module.to(device)
    if mode == 'compile':
        tr.student = torch.compile(tr.student)
        tr.teacher = torch.compile(tr.teacher)
    gen = torch.Generator().manual_seed(1)
    crops = []
    for _ in range(warmup + steps):
        images = torch.randint(0, 256, (batch, 28, 28), dtype=torch.uint8, generator=gen)
        crops.append([c.to(device) for c in ref.dino_crops(images, gen, tr.n_local)])
    times = []
    for k in range(warmup + steps):
        t0 = time.perf_counter()
        tr.step(crops[k], niter + k, 1)  # .item() inside waits for the device
        times.append(time.perf_counter() - t0)
    times = sorted(times[warmup:])
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, int(math.ceil(0.9 * len(times))) - 1)]
    return {'impl': 'torch-' + mode, 'batch': batch, 'device': str(device),
            'median_ms': 1e3 * median, 'p90_ms': 1e3 * p90, 'images_per_s': batch / median,
            'torch': torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--ref', required=True, help="path of the reference's ref.py")
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--batch', default='128,512')
    ap.add_argument('--modes', default='eager,compile')
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    args = ap.parse_args()
    ref = load_ref(args.ref)
    device = torch.device(args.device)
    for batch in [int(b) for b in args.batch.split(',')]:
        for mode in args.modes.split(','):
            if mode == 'compile' and not hasattr(torch, 'compile'):
                print(json.dumps({'impl': 'torch-compile', 'batch': batch,
                                  'skipped': 'torch %s has no torch.compile' % torch.__version__}))
                continue
            # torch.compile traces and autotunes in its first steps.
            warmup = args.warmup + (5 if mode == 'compile' else 0)
            print(json.dumps(time_steps(ref, device, batch, mode, args.steps, warmup)), flush=True)


if __name__ == '__main__':
    sys.exit(main())
