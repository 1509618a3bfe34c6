"""Checks a `kiln bench --trace` file against `kiln inspect --thunks`:
every thunk once on thread 0, in order and without overlap, named by its
region (kernels) or shape (GEMMs) and its node; the pool threads' events
inside their thunk's; one communication event per collective bucket, from
its start thunk's beginning to its wait thunk's end, with the bucket's
bytes. Prints one line per check for FileCheck.

    python3 check-trace.py TRACE.json INSPECT.txt
"""
import json
import re
import sys

trace = json.load(open(sys.argv[1]))
thunks, buckets = {}, {}
for line in open(sys.argv[2]):
    m = re.match(r'\s+(\d+) (\S+)\s+(\S+).*?\s\d+\.\d+\s+\d+\.\d+  (.+?)  reads', line)
    if m:
        thunks[int(m.group(1))] = (m.group(2), m.group(3), m.group(4))
    m = re.match(r'\s+(\d+)\s+(\d+)\s+(\w+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s', line)
    if m:
        buckets[int(m.group(1))] = (float(m.group(4)), int(m.group(5)), int(m.group(6)))
events = [e for e in trace['traceEvents'] if e['ph'] == 'X']
names = {e['tid']: e['args']['name'] for e in trace['traceEvents'] if e['ph'] == 'M' and e['name'] == 'thread_name'}
comm = [tid for tid, n in names.items() if n == 'communication']
main = [e for e in events if e['tid'] == 0]
order = [e['args']['thunk'] for e in main]
print('thunks on thread 0 in order:', order == sorted(thunks))
print('no overlap:', all(a['ts'] + a['dur'] <= b['ts'] + 1e-3 for a, b in zip(main, main[1:])))
named = True
for e in main:
    kind, what, node = thunks[e['args']['thunk']]
    named &= e['args']['node'] == node and node in e['name'] \
        and (kind != 'kernel' or e['name'].startswith(what)) \
        and (e['args']['kind'] == 'gemm') == (kind == 'gemm')
print('named by region and node:', named)
span = {e['args']['thunk']: (e['ts'], e['ts'] + e['dur']) for e in main}
workers = [e for e in events if 0 < e['tid'] and e['tid'] not in comm]
# A pool thread appears where it took chunks (none when the calling thread
# took them all: ThreadPoolTest checks the spans themselves).
print('a track per thread:', sorted(t for t in names if t not in comm) == list(range(trace['otherData']['threads'])))
print('pool threads\' events inside their thunks:',
      all(span[e['args']['thunk']][0] - 1 <= e['ts'] and e['ts'] + e['dur'] <= span[e['args']['thunk']][1] + 1
          for e in workers))
collectives = {e['args']['bucket']: e for e in events if e['tid'] in comm}
ok = sorted(collectives) == sorted(buckets)
for b, (kb, start, wait) in buckets.items():
    e = collectives.get(b)
    ok &= e is not None and abs(e['args']['bytes'] / 1024 - kb) < 0.1 \
        and abs(e['ts'] - span[start][0]) < 1e-3 and abs(e['ts'] + e['dur'] - span[wait][1]) < 1e-3
print('one event per bucket, start to wait:', len(buckets) > 0, ok)
