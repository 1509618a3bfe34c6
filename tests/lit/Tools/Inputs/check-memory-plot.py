"""Checks `kiln inspect --memory-plot` against `kiln inspect --buffers`
(argv[1], its train_step listing): the plotted curve's largest value is
the listing's peak at the same thunk, and each labelled bar is one of the
largest buffers with the listing's bytes, first and last thunk, in order
of size."""
import re
import sys
import xml.etree.ElementTree as ET

listing = open(sys.argv[1]).read()
head = re.search(r"  train_step: peak live ([0-9.]+) MB at thunk (\d+) .*, arena ([0-9.]+) MB", listing)
peak_mb, peak_at = float(head.group(1)), int(head.group(2))
rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+) \S+\s+(\d+)\s+(\d+)\s+\*?\s*(.+)$",
                  listing.split(head.group(0))[1].split("\n\n")[0], re.M)
buffers = {int(i): (int(size), int(first), int(last)) for i, _, size, first, last, _ in rows}

ns = {"s": "http://www.w3.org/2000/svg"}
svg = ET.parse(sys.stdin).getroot()
curve = svg.find("s:path[@class='live']", ns)
title = re.match(r"peak (\d+) B at thunk (\d+)", curve.find("s:title", ns).text)
assert abs(int(title.group(1)) / 1e6 - peak_mb) < 1e-3, (title.group(0), peak_mb)
assert int(title.group(2)) == peak_at, (title.group(0), peak_at)

bars = [re.match(r"buffer (\d+) .*: (\d+) B, thunks (\d+)-(\d+)$", g.find("s:title", ns).text).groups()
        for g in svg.findall("s:g[@class='buffer']", ns)]
assert bars, "no buffer bars"
sizes = sorted((s for s, _, _ in buffers.values()), reverse=True)
for (i, size, first, last), want in zip(bars, sizes):
    assert buffers[int(i)] == (int(size), int(first), int(last)), (i, buffers[int(i)], size, first, last)
    assert int(size) == want, (i, size, "is not among the largest", want)
print("memory plot: peak %d B at thunk %d, %d largest buffers labelled"
      % (int(title.group(1)), peak_at, len(bars)))
