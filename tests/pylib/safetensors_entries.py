"""The tensors of a safetensors file as (name, dtype, shape, raw bytes), with
the standard library only; the test scripts turn them into arrays."""
import json
import struct


def entries(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    for name, e in header.items():
        if name != '__metadata__':
            lo, hi = e['data_offsets']
            yield name, e['dtype'], e['shape'], blob[lo:hi]
