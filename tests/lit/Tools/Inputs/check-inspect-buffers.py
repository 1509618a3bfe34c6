"""Checks `kiln inspect --thunks --buffers` against itself: each arena
buffer's first and last thunk are where the thunk list first and last
names it, its first use writes it (nothing reads a temporary before it is
made), the peak live bytes are the largest sum over the thunks of the
buffers live there, and the arena holds at least that peak. Prints one
line per program."""
import re
import sys

text = sys.stdin.read()
programs = re.split(r"\nprogram ", text)[1:]
for block in programs:
    entry = block.split(":", 1)[0]
    head = re.search(r"  %s: peak live ([0-9.]+) MB at thunk (\d+) .*, arena ([0-9.]+) MB" % entry, block)
    assert head, "no buffer header for " + entry
    peak_mb, peak_at, arena_mb = float(head.group(1)), int(head.group(2)), float(head.group(3))
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+) \S+\s+(\d+)\s+(\d+)\s", block.split(head.group(0))[1].split("\n\n")[0], re.M)
    life = {int(i): (int(b), int(f), int(l)) for i, _, b, f, l in rows}
    uses = {}
    for n, reads, writes in re.findall(r"^\s+(\d+) \S+ .* reads ([\d ]*) -> writes ([\d ]*)$", block, re.M):
        for ids, kind in ((reads, "r"), (writes, "w")):
            for i in ids.split():
                uses.setdefault(int(i), []).append((int(n), kind))
    live = {}
    for i, (size, first, last) in life.items():
        seen = sorted(uses[i])
        assert (seen[0][0], seen[-1][0]) == (first, last), (entry, i, seen[0], seen[-1], first, last)
        assert "w" in [k for n, k in seen if n == first], (entry, "buffer %d is read before it is written" % i)
        for t in range(first, last + 1):
            live[t] = live.get(t, 0) + size
    top = max(live.values())
    assert abs(top / 1e6 - peak_mb) < 1e-3 and live[peak_at] == top, (entry, top, peak_mb, peak_at)
    assert top <= arena_mb * 1e6 + 1e3, (entry, "the arena is smaller than the peak", top, arena_mb)
    print("%s: %d arena buffers checked, peak %d bytes, arena %.3f MB" % (entry, len(life), top, arena_mb))
