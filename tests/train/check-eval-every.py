"""`kiln train --eval-every N` evaluates after every N-th epoch and at the
end of the run; `--no-eval` never does (and needs no evaluation data).

    check-eval-every.py KILN MODEL.json
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def evaluated_epochs(kiln, artifact, work, name, extra):
    run = os.path.join(work, name)
    subprocess.run([kiln, 'train', artifact, '--data', 'synthetic:512', '--epochs', '3', '--threads', '2',
                    '--quiet', '--out', run] + extra, check=True)
    records = [json.loads(line) for line in open(os.path.join(run, 'metrics.jsonl'))]
    return [r['epoch'] for r in records if 'test_accuracy' in r]


def main():
    kiln, model = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix='kiln-eval-every-')
    try:
        artifact = os.path.join(work, 'model.kiln')
        subprocess.run([kiln, 'compile', model, '--batch-size', '128', '-o', artifact, '--quiet'], check=True)
        cases = [('every-epoch', [], [1, 2, 3]), ('every-2', ['--eval-every', '2'], [2, 3]),
                 ('none', ['--no-eval'], [])]
        failed = 0
        for name, extra, want in cases:
            got = evaluated_epochs(kiln, artifact, work, name, extra)
            print('%s: evaluated after epochs %s (want %s)' % (name, got, want))
            failed += got != want
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
