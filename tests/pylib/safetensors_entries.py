"""The tensors of a safetensors file as (name, dtype, shape, raw bytes), and
arrays (anything with dtype, shape and tobytes: numpy) written as one, with
the standard library only."""
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


def write(path, tensors):
    """Writes {name: array} (int32 as I32, everything else as F32)."""
    header, blobs, off = {}, [], 0
    for name, t in sorted(tensors.items()):
        b = t.tobytes()
        dtype = 'I32' if str(t.dtype) == 'int32' else 'F32'
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
