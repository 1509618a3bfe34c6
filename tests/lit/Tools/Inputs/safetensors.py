"""Writes a batch for the tiny classifier, or lists a safetensors file.

  safetensors.py batch OUT [--label L L L L] [--label-dtype F32]
                                image (4,1,8,8) F32 and label (4,) I32
                                (labels 0 1 2 3 unless given)
  safetensors.py list FILE      one line per tensor: name dtype shape
"""
import json
import random
import struct
import sys


def write(path, tensors):
    header, data, offset = {}, b"", 0
    for name, (dtype, shape, payload) in sorted(tensors.items()):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(payload)]}
        data += payload
        offset += len(payload)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


if sys.argv[1] == "batch":
    args = sys.argv[3:]
    labels = [int(x) for x in args[args.index("--label") + 1:][:4]] if "--label" in args else [0, 1, 2, 3]
    dtype = args[args.index("--label-dtype") + 1] if "--label-dtype" in args else "I32"
    rng = random.Random(0)
    image = struct.pack("<256f", *[rng.uniform(-1, 1) for _ in range(256)])
    label = struct.pack("<4f" if dtype == "F32" else "<4i", *labels)
    write(sys.argv[2], {"image": ("F32", [4, 1, 8, 8], image), "label": (dtype, [4], label)})
else:
    for name, entry in sorted(read_header(sys.argv[2]).items()):
        if name != "__metadata__":
            print(name, entry["dtype"], entry["shape"])
