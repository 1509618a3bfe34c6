#!/usr/bin/env python3
"""Measured against predicted, per kernel: joins `kiln bench --device cuda
--profile`'s slowest thunks (PROFILE.json) with `kiln inspect --target cuda`'s
table (INSPECT.txt: launch, registers, occupancy, bytes, the bandwidth
model's time) by thunk index, and prints one JSON line per kernel among the
slowest: {"kernel_fit": region, "thunk", "measured_us", "predicted_us",
"ratio", "blocks", "occupancy", "registers", "mb"}. The profile
synchronises after every thunk, so a measured time includes the launch and
the wait (a few microseconds). scripts/gpu-check runs it; table.py prints it.

    python3 bench/gpu/kernel-fit.py PROFILE.json INSPECT.txt
"""
import json
import re
import sys


def predictions(path):
    """thunk -> the columns of kiln inspect --target cuda's table of train_step."""
    fit = {}
    text = open(path).read().split('train_step kernels on an')
    if len(text) < 2:
        return fit
    for line in text[1].split(' kernels on an')[0].splitlines():
        m = re.match(r'\s+(\d+) (fusion_\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(\d+)'
                     r'\s+([\d.]+)\s+([\d.]+)\s*$', line)
        if m:
            fit[int(m.group(1))] = {'region': m.group(2), 'registers': int(m.group(5)),
                                    'occupancy': int(m.group(7)) / 100,
                                    'blocks': int(m.group(8)), 'mb': float(m.group(9)),
                                    'predicted_us': float(m.group(10))}
    return fit


def main():
    profile = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')][-1]
    fit = predictions(sys.argv[2])
    if not fit:
        sys.exit('kernel-fit: no kernel table in %s (kiln inspect --target cuda)' % sys.argv[2])
    for t in profile['slowest_thunks']:
        f = fit.get(t['thunk'])
        if f is None:
            continue  # a GEMM, a copy or a collective
        measured = 1e3 * t['ms']
        print(json.dumps({'kernel_fit': f['region'], 'thunk': t['thunk'],
                          'measured_us': round(measured, 1), 'predicted_us': f['predicted_us'],
                          'ratio': round(measured / f['predicted_us'], 2),
                          'blocks': f['blocks'], 'occupancy': f['occupancy'],
                          'registers': f['registers'], 'mb': f['mb']}))


if __name__ == '__main__':
    main()
