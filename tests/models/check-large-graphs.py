"""The shipped ViT-S/16 graphs (DINO and supervised, 224 pixels) compile
and train a few steps at batch 2 on generated images, evaluation included:
everything but the size a real run needs GPUs for.

    check-large-graphs.py KILN GRAPH.json [--steps 2]

The graph is trained as shipped except for its evaluation batch (16, so
evaluating 40 generated images takes seconds); the run must report finite
losses for every step and an evaluation.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    kiln, graph = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[sys.argv.index('--steps') + 1]) if '--steps' in sys.argv else 2
    work = tempfile.mkdtemp(prefix='kiln-large-')
    try:
        g = json.load(open(graph))
        g['train']['eval']['batch_size'] = 16
        models = os.path.dirname(os.path.abspath(graph))
        os.symlink(os.path.join(models, 'lib'), os.path.join(work, 'lib'))
        copy = os.path.join(work, os.path.basename(graph))
        json.dump(g, open(copy, 'w'))
        run = os.path.join(work, 'run')
        p = subprocess.run([kiln, 'train', copy, '--batch-size', '2', '--steps', str(steps), '--data',
                            'synthetic:40', '--threads', '2', '--out', run],
                           capture_output=True, text=True)
        print(p.stderr[-3000:])
        if p.returncode != 0:
            print('FAIL: kiln train exited %d' % p.returncode)
            return 1
        records = [json.loads(line) for line in open(os.path.join(run, 'metrics.jsonl'))]
        losses = [r['loss'] for r in records if 'loss' in r]
        evaluated = [r for r in records if 'test_accuracy' in r]
        if not losses or not all(math.isfinite(x) for x in losses):
            print('FAIL: losses %s' % losses)
            return 1
        if not evaluated:
            print('FAIL: no evaluation in metrics.jsonl')
            return 1
        print('%s: %d steps, loss %s, evaluation %s' % (g['name'], steps, losses, evaluated[-1]))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
