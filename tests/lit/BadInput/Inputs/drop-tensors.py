"""Copies a safetensors file without the tensors whose names start with PREFIX.

  drop-tensors.py IN OUT PREFIX
"""
import json
import struct
import sys

src, dst, prefix = sys.argv[1:4]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
out, payload = {}, b""
for name, entry in header.items():
    if name == "__metadata__" or name.startswith(prefix):
        continue
    begin, end = entry["data_offsets"]
    bytes_ = data[8 + n + begin:8 + n + end]
    out[name] = dict(entry, data_offsets=[len(payload), len(payload) + len(bytes_)])
    payload += bytes_
text = json.dumps(out).encode()
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + payload)
