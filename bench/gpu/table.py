#!/usr/bin/env python3
"""The summary table of scripts/gpu-check, from its JSON lines."""
import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    print('\nkiln gpu-check')
    print('%-34s %s' % ('check', 'result'))
    for r in rows:
        if 'check' in r:
            ok = r['exit'] == 0 and r.get('above') == 0
            detail = ('%s thunks, max relative difference %.2g (tolerance %g)' % (
                r['thunks'], r['max_relative'], r['tolerance'])
                if r['max_relative'] is not None else r.get('error', 'no result'))
            print('%-34s %s  %s' % ('thunks vs CPU: ' + r['check'], 'PASS' if ok else 'FAIL', detail))
        elif 'curve' in r and 'error' in r:
            print('%-34s FAIL  %s' % ('DINO loss curve vs CPU', r['error']))
        elif 'curve' in r:
            print('%-34s %s  %s/%s points, max relative %.2g (tolerance %g), final loss %s (CPU) %s (GPU)'
                  % ('DINO loss curve vs CPU', 'PASS' if r.get('pass') else 'FAIL', r.get('points'),
                     r.get('of'), r.get('max_relative'), r.get('tolerance'), r.get('final_reference'),
                     r.get('final_candidate')))
    print('\n%-22s %6s %10s %10s %10s' % ('DINO step', 'batch', 'median ms', 'p90 ms', 'images/s'))
    for r in rows:
        if 'median_ms' in r:
            name = r.get('impl', 'kiln')
            print('%-22s %6d %10.2f %10.2f %10.0f' % (name, r['batch'], r['median_ms'], r['p90_ms'],
                                                     r.get('images_per_s', 0)))
        elif r.get('failed') or r.get('skipped'):
            print('%-22s %s' % (r.get('impl', r.get('bench', '?')),
                                r.get('skipped', 'failed, exit %s' % r.get('exit'))))
    fits = [r for r in rows if 'kernel_fit' in r]
    if fits:
        print('\nDINO\'s slowest kernels on the GPU: measured (profiled, synchronised per thunk) '
              'against the bandwidth model (kiln inspect --target cuda)')
        print('%6s %-44s %11s %11s %6s %9s %6s %5s' % ('thunk', 'region', 'measured us',
                                                       'predicted', 'ratio', 'blocks',
                                                       'occup', 'regs'))
        for r in fits:
            print('%6d %-44s %11.1f %11.1f %6.1f %9d %5.0f%% %5d' % (
                r['thunk'], r['kernel_fit'], r['measured_us'], r['predicted_us'], r['ratio'],
                r['blocks'], 100 * r['occupancy'], r['registers']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
