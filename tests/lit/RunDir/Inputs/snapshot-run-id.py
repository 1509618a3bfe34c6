"""Prints the run id of a run directory's run.json, then each snapshot with
the run id in its metadata.

  snapshot-run-id.py RUNDIR
"""
import json
import os
import struct
import sys

print("run.json id=" + json.load(open(os.path.join(sys.argv[1], "run.json")))["id"])
folder = os.path.join(sys.argv[1], "snapshots")
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n)).get("__metadata__", {})
    print(name, "run_id=" + meta.get("run_id", ""))
