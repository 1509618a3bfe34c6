"""Checks kiln inspect --target cuda --thunks against itself: the GPU table
of train_step lists each kernel thunk of --thunks once, every kernel has
registers from ptxas, and each predicted time is 2.5 us + bytes /
(0.9 x bandwidth x fill), fill = min(1, resident warps / (SMs x 32)),
recomputed from the printed launch, occupancy and bytes (to the rounding
of the printed columns).

    python3 check-gpu-fit.py INSPECT.txt SMS BANDWIDTH
"""
import re
import sys

text = open(sys.argv[1]).read()
sms, bandwidth = int(sys.argv[2]), float(sys.argv[3])
step = text.split('program train_step')[1].split('\nprogram ')[0]
rows = [m.groups() for m in re.finditer(
    r'^\s+(\d+) (fusion_\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(\d+)\s+([\d.]+)'
    r'\s+([\d.]+)\s*$', step, re.M)]
kernels = [int(m.group(1)) for m in re.finditer(r'^\s+(\d+) kernel ', step, re.M)]
print('every kernel thunk once:', sorted(int(r[0]) for r in rows) == sorted(kernels) and len(rows) > 0)
print('registers from ptxas:', all(int(r[4]) > 0 for r in rows))
ok = True
for (thunk, region, n, block, regs, spill, occup, blocks, mb, predicted) in rows:
    warps = (int(block) + 31) // 32
    blocks = int(blocks)
    resident_blocks_per_sm = int(occup) / 100 * 64 / warps
    resident = min(blocks, sms * resident_blocks_per_sm) * warps
    fill = min(1.0, resident / (sms * 32))
    want = 2.5 + 1e6 * float(mb) * 1e6 / (0.9 * bandwidth * fill)
    # Printed bytes (0.001 MB) and occupancy (1%) are rounded.
    ok &= abs(want - float(predicted)) <= 0.1 + 0.05 * want
print('model recomputed:', ok)
