#!/usr/bin/env python3
"""Strangers on MASTER_PORT neither take a rank's place nor hold the job up.

    check-rendezvous.py KILN TINY_GRAPH

Each case starts rank 0 of a torchrun-style job (the tiny classifier, 40
steps), lets hostile clients written here connect first, then starts the
real ranks, and requires the job to form and train (every rank status 0,
40 steps in summary.json) with rank 0 logging each stranger with its
address and why it was turned away:
  - a silent client and a slow-loris client (one byte a second), dropped
    at their 5 s handshake deadline while rank 0 goes on waiting;
  - a garbage client (an HTTP request);
  - an impostor speaking the protocol (implemented here from
    runtime/comm/Handshake.h) with the right job id, world size and model
    CRC but without the secret the job was given;
  - a duplicate rank: two real rank-1 processes, one turned away;
  - 200 random byte streams, some closed at once, some left open;
and, with only strangers arriving, rank 0's --comm-timeout of 3 s holds
within a second. Everything is bounded in time and count.
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'pylib'))
from ports import free_port  # noqa: E402

STEPS = 40
SECRET = 'correct horse battery staple'
JOB = 'rendezvous-test'


class Job:
    def __init__(self, args, work, ranks, name, secret=SECRET, timeout=30):
        self.args, self.ranks, self.port = args, ranks, free_port()
        self.artifact = os.path.join(work, 'tiny-%d.kiln' % ranks)
        if not os.path.exists(self.artifact):
            subprocess.run([args.kiln, 'compile', args.graph, '--ranks', str(ranks),
                            '--batch-size', str(4 * ranks), '-o', self.artifact, '--quiet'],
                           check=True)
        self.out = os.path.join(work, name)
        self.env = dict(os.environ, WORLD_SIZE=str(ranks), LOCAL_WORLD_SIZE=str(ranks),
                        MASTER_ADDR='127.0.0.1', MASTER_PORT=str(self.port), KILN_JOB_ID=JOB)
        if secret:
            self.env['KILN_JOB_SECRET'] = secret
        self.timeout = timeout
        self.procs = {}

    def start(self, rank, key=None):
        cmd = [self.args.kiln, 'train', self.artifact, '--steps', str(STEPS), '--data',
               'synthetic:640', '--threads', '1', '--quiet', '--no-eval', '--out', self.out,
               '--comm-timeout', str(self.timeout)]
        p = subprocess.Popen(cmd, env=dict(self.env, RANK=str(rank), LOCAL_RANK=str(rank)),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs[key if key is not None else rank] = p
        if rank == 0:
            self.wait_listening()
        return p

    def wait_listening(self):
        for _ in range(500):
            with socket.socket() as s:
                if s.connect_ex(('127.0.0.1', self.port)) == 0:
                    return
            time.sleep(0.01)
        raise RuntimeError('rank 0 never listened')

    def finish(self):
        return {k: (p.wait(timeout=300), p.stdout.read()) for k, p in self.procs.items()}

    def crc(self):
        return zlib.crc32(open(os.path.join(self.artifact, 'manifest.json'), 'rb').read())


def hello(rank, world, job, crc, has_secret, version=1):
    return (b'kiln-rdv' + struct.pack('<Iii', version, rank, world) +
            hashlib.sha256(job.encode()).digest() + struct.pack('<IB', crc, has_secret) +
            os.urandom(16))


def connect(port):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    return s


def silent(port, stop):
    s = connect(port)
    stop.wait(20)
    s.close()


def slow_loris(port, stop):
    s = connect(port)
    for byte in hello(1, 2, JOB, 0, 1):
        if stop.wait(1.0):
            break
        try:
            s.send(bytes([byte]))
        except OSError:
            break  # rank 0 dropped it
    s.close()


def garbage(port, stop):
    s = connect(port)
    s.send(b'GET /metrics HTTP/1.1\r\nHost: rank0\r\n\r\n' + b'x' * 40)
    stop.wait(20)
    s.close()


def impostor(port, crc, result):
    """Everything right but the secret: rank 0 says Continue, then
    WrongSecret (verdict 9) to a made-up proof."""
    s = connect(port)
    s.sendall(hello(1, 2, JOB, crc, 1))
    reply = s.recv(73, socket.MSG_WAITALL)
    verdict = struct.unpack('<I', reply[12:16])[0] if len(reply) == 73 else None
    s.sendall(os.urandom(32))
    final = s.recv(4, socket.MSG_WAITALL)
    result.extend([verdict, struct.unpack('<I', final)[0] if len(final) == 4 else None])
    s.close()


def random_stream(port, rng, stop):
    try:
        s = connect(port)
        s.send(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 150))))
        if rng.random() < 0.5:
            stop.wait(rng.uniform(0, 3))
        s.close()
    except OSError:
        pass  # rank 0 had already dropped it


def trained(job, results, keys=None):
    """A failure message unless every rank in `keys` exited 0 and the run
    has all its steps."""
    for k in keys if keys is not None else results:
        if results[k][0] != 0:
            return 'rank %s exited %d:\n%s' % (k, results[k][0], results[k][1])
    steps = json.load(open(os.path.join(job.out, 'summary.json')))['steps']
    return None if steps == STEPS else 'the run has %d steps' % steps


def with_strangers(args, work, ranks, name, clients, expect, delay=0.5):
    """Rank 0, then `clients` (functions of the port and a stop event) on
    threads, then after `delay` seconds the real ranks; `expect`: patterns
    rank 0 must log."""
    job = Job(args, work, ranks, name)
    job.start(0)
    stop = threading.Event()
    threads = [threading.Thread(target=c, args=(job.port, stop)) for c in clients]
    for t in threads:
        t.start()
    time.sleep(delay)  # the strangers are in before the real ranks
    for r in range(1, ranks):
        job.start(r)
    results = job.finish()
    stop.set()
    for t in threads:
        t.join()
    failure = trained(job, results)
    log = results[0][1]
    missing = [e for e in expect if not re.search(e, log)]
    if failure or missing:
        return failure or 'rank 0 did not log %s:\n%s' % (missing, log)
    turned = [line for line in log.splitlines() if 'turned away' in line]
    print('%s: the %d-rank job formed and trained %d steps; rank 0 logged %d stranger(s), '
          'e.g. "%s"' % (name, ranks, STEPS, len(turned), turned[0] if turned else '-'))
    return None


def impostor_case(args, work):
    job = Job(args, work, 2, 'impostor')
    job.start(0)
    result = []
    impostor(job.port, job.crc(), result)
    job.start(1)
    results = job.finish()
    failure = trained(job, results)
    if failure or result != [1, 9] or 'it failed to prove the job secret' not in results[0][1]:
        return failure or 'the impostor got verdicts %s:\n%s' % (result, results[0][1])
    print('impostor with the right job, world size and model CRC but no secret: rank 0 '
          'answered Continue, then WrongSecret; the real rank 1 joined and the job trained')
    return None


def duplicate_case(args, work):
    job = Job(args, work, 3, 'duplicate')
    job.start(0)
    job.start(1, key='1a')
    job.start(1, key='1b')
    time.sleep(1.0)
    job.start(2)
    results = job.finish()
    codes = sorted((results['1a'][0], results['1b'][0]))
    refused = results['1a'] if results['1a'][0] else results['1b']
    failure = trained(job, results, [0, 2])
    if failure or codes != [0, 1] or 'which another connection already holds' not in refused[1]:
        return failure or 'the two rank-1 processes: %s\n%s\n%s' % (
            codes, results['1a'][1], results['1b'][1])
    print('duplicate rank 1: one joined, the other was turned away ("%s"); the 3-rank job '
          'trained' % refused[1].strip().splitlines()[-1])
    return None


def timeout_case(args, work):
    """Only strangers: rank 0 gives up at its --comm-timeout, on time."""
    job = Job(args, work, 2, 'timeout', timeout=3)
    start = time.time()
    job.start(0)
    stop = threading.Event()
    threads = [threading.Thread(target=f, args=(job.port, stop)) for f in (silent, slow_loris)]
    for t in threads:
        t.start()
    code, log = job.finish()[0]
    took = time.time() - start
    stop.set()
    for t in threads:
        t.join()
    if code != 1 or 'only 0 of 1 other ranks joined' not in log or not 3 <= took < 4:
        return 'rank 0 exited %d after %.2f s (--comm-timeout 3):\n%s' % (code, took, log)
    print('only strangers (silent, slow loris): rank 0 gave up after %.2f s with '
          '--comm-timeout 3' % took)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kiln')
    ap.add_argument('graph')
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix='kiln-rendezvous-')
    streams = [lambda port, stop, r=random.Random(rng.random()): random_stream(port, r, stop)
               for _ in range(200)]
    cases = [
        # The real rank comes after the strangers' 5 s handshake deadline.
        lambda: with_strangers(args, work, 2, 'silent-and-slow-loris', [silent, slow_loris],
                               [r'it sent 0 of 73 bytes within 5 s \(a silent or slow client\)',
                                r'it sent [1-9] of 73 bytes within 5 s'], delay=6),
        lambda: with_strangers(args, work, 3, 'garbage', [garbage],
                               [re.escape('not a kiln rank\'s hello (73 bytes: "GET /metrics HTT" ...)')]),
        lambda: impostor_case(args, work),
        lambda: duplicate_case(args, work),
        lambda: with_strangers(args, work, 2, 'random-2', streams, ['turned away']),
        lambda: with_strangers(args, work, 3, 'random-3', streams, ['turned away']),
        lambda: timeout_case(args, work),
    ]
    try:
        for case in cases:
            failure = case()
            if failure:
                print('FAIL: ' + failure)
                return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
