"""Reads kiln inspect's summary; fails unless the train step's arena is
smaller than the arena it would need without recomputation."""
import re
import sys

text = sys.stdin.read()
m = re.search(r"recomputation: arena ([0-9.]+) MB, ([0-9.]+) MB keeping", text)
if not m:
    sys.exit("no recomputation line in kiln inspect's output")
arena, kept = float(m.group(1)), float(m.group(2))
if not arena < kept:
    sys.exit(f"the arena ({arena} MB) is not smaller than without recomputation ({kept} MB)")
print(f"arena {arena} MB < {kept} MB without recomputation")
