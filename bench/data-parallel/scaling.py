"""A model of data-parallel step time at many GPUs: ring all-reduce per
bucket, started when backward produces the bucket (overlapped) or all after
backward (not), against the compute of the step.

    scaling.py --artifact OUT.kiln --step-ms MS [--gpus 8 64 256]
    scaling.py --gradient-mb 86 --step-ms MS   (buckets as DDP cuts them,
                                               produced evenly over backward)

Buckets and where they become ready (the fraction of the step's FLOPs done
by their start thunk) come from the artifact. One ring all-reduce of S
bytes over N GPUs costs 2(N-1)/N · S / B + 2(N-1) · a (B: the slowest
link's bandwidth per GPU, a: the latency of one ring step). The link
carries one bucket at a time, in order. Exposed communication is what
ends after the compute: Σ T_b without overlap.
"""
import argparse
import json
import os

# (bandwidth GB/s per GPU, latency µs per ring step): NVLink inside one
# 8-GPU node, InfiniBand (one 400 Gb/s NIC per GPU) across nodes.
LINKS = {8: (370.0, 5.0), 64: (50.0, 10.0), 256: (50.0, 10.0)}


def buckets_from_artifact(path):
    m = json.load(open(os.path.join(path, 'manifest.json')))['manifest']
    p = next(p for p in m['programs'] if p['entry'] == 'train_step')
    sizes = {b['id']: b['bytes'] for b in m['buffers']}
    total = sum(t['flops'] for t in p['thunks']) or 1
    done, out = 0, []
    for t in p['thunks']:
        if t['kind'] == 'all_reduce_start':
            out.append((sizes[t['bucket_buffer']], done / total))
        done += t['flops']
    return out


def buckets_like_ddp(megabytes):
    """1 MiB first, 25 MiB after, produced evenly over backward (the last
    two thirds of the step)."""
    left, out, first = megabytes * 2**20, [], True
    while left > 0:
        size = min(left, 2**20 if first else 25 * 2**20)
        left -= size
        first = False
        out.append(size)
    produced, acc = [], 0
    for s in out:
        acc += s
        produced.append((s, 1 / 3 + 2 / 3 * acc / (megabytes * 2**20)))
    return produced


def exposed_ms(buckets, step_ms, n, overlap):
    bw, lat = LINKS[n]
    link_free = 0.0
    costs = [2 * (n - 1) / n * size / (bw * 1e9) * 1e3 + 2 * (n - 1) * lat / 1e3
             for size, _ in buckets]
    if not overlap:
        return sum(costs)
    for (size, ready), cost in zip(sorted(buckets, key=lambda b: b[1]), costs):
        link_free = max(link_free, ready * step_ms) + cost
    return max(0.0, link_free - step_ms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--artifact')
    ap.add_argument('--gradient-mb', type=float)
    ap.add_argument('--step-ms', type=float, required=True)
    ap.add_argument('--gpus', type=int, nargs='+', default=[8, 64, 256])
    args = ap.parse_args()
    buckets = buckets_from_artifact(args.artifact) if args.artifact else buckets_like_ddp(args.gradient_mb)
    total = sum(s for s, _ in buckets) / 1e6
    print('%d buckets, %.2f MB, compute %.1f ms per step' % (len(buckets), total, args.step_ms))
    print('| GPUs | link | no overlap: comm ms | efficiency | overlapped: exposed ms | efficiency |')
    print('|---|---|---|---|---|---|')
    for n in args.gpus:
        bw, lat = LINKS[n]
        plain = exposed_ms(buckets, args.step_ms, n, False)
        hidden = exposed_ms(buckets, args.step_ms, n, True)
        print('| %d | %.0f GB/s, %.0f µs | %.2f | %.0f%% | %.2f | %.0f%% |'
              % (n, bw, lat, plain, 100 * args.step_ms / (args.step_ms + plain), hidden,
                 100 * args.step_ms / (args.step_ms + hidden)))


if __name__ == '__main__':
    main()
