#!/usr/bin/env python3
"""Compares two runs' loss curves (metrics.jsonl), step by step.

The GPU run of scripts/gpu-check against the CPU's: the same artifact,
data and seeds, so the curves differ only by float rounding (other
reduction orders in cuBLAS and the GPU kernels), which 300 AdamW steps
amplify. Calibrated: two CPU builds sharing OpenBLAS (kernels for
x86-64-v3 and for --cpu=host) differ by at most 5.9e-8 relative, and an
H200 (cuBLAS 13.1) against the CPU by 5.3e-8 (2026-12-01); the default
tolerance, 1e-5, leaves 200x that for other GPUs' summation orders, and a
wrong kernel moves the curve by 1e-3 or more. Prints one JSON line; exit
status 1 above the tolerance or when a run is missing or failed.

  compare-curves.py CPU/metrics.jsonl GPU/metrics.jsonl [--tolerance 1e-5] [--exit N]
"""
import argparse
import json
import sys


def losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if 'loss' in r and 'step' in r:
                out[r['step']] = r['loss']
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('reference')
    ap.add_argument('candidate')
    ap.add_argument('--tolerance', type=float, default=1e-5)
    ap.add_argument('--exit', type=int, default=0, help="the candidate run's exit status")
    args = ap.parse_args()
    try:
        ref, got = losses(args.reference), losses(args.candidate)
    except OSError as e:
        print(json.dumps({'curve': 'dino', 'error': str(e), 'exit': args.exit}))
        return 1
    steps = sorted(set(ref) & set(got))
    rel = [abs(got[s] - ref[s]) / abs(ref[s]) for s in steps]
    worst = max(rel) if rel else float('inf')
    ok = bool(steps) and len(steps) == len(ref) and worst <= args.tolerance and args.exit == 0
    print(json.dumps({'curve': 'dino', 'points': len(steps), 'of': len(ref),
                      'first_relative': rel[0] if rel else None, 'max_relative': worst,
                      'final_reference': ref[steps[-1]] if steps else None,
                      'final_candidate': got[steps[-1]] if steps else None,
                      'tolerance': args.tolerance, 'pass': ok, 'exit': args.exit}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
