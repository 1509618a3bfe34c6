"""Writes an IDX dataset (train- and t10k- images and labels) for the
runtime's input checks.

  idx.py DIR [--count N] [--size H W] [--label L] [--dims D0 D1 D2]

Images are N x H x W bytes of a pattern; every label is L (default: i % 10).
--dims writes a train-images header with those dimensions and no data (a
header whose size overflows).
"""
import argparse
import os
import struct

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--count", type=int, default=64)
p.add_argument("--size", type=int, nargs=2, default=[28, 28])
p.add_argument("--label", type=int)
p.add_argument("--dims", type=int, nargs=3)
a = p.parse_args()
os.makedirs(a.dir, exist_ok=True)
h, w = a.size
for split in ("train", "t10k"):
    dims = a.dims or [a.count, h, w]
    with open(os.path.join(a.dir, f"{split}-images-idx3-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", *dims))
        if not a.dims:
            f.write(bytes((i * 7 + j) % 256 for i in range(a.count) for j in range(h * w)))
    with open(os.path.join(a.dir, f"{split}-labels-idx1-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", a.count))
        f.write(bytes((a.label if a.label is not None else i % 10) % 256 for i in range(a.count)))
