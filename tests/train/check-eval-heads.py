"""`train.eval.output` as a list scores several heads: each head's accuracy
is reported (test_accuracy/NAME, the first also as test_accuracy) and
equals what `kiln eval` gives for that head alone, with the same trained
parameters.

    check-eval-heads.py KILN MODELS_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

GRAPH = {
    "kiln": 1, "name": "two-heads",
    "doc": "vit-fm with two linear heads over the cls feature, each trained by cross-entropy.",
    "imports": ["lib/vit.json", "lib/losses.json"],
    "modules": {"two_heads": {
        "inputs": ["x"],
        "nodes": [
            {"id": "backbone", "op": "call", "module": "vit_fm", "in": ["x"], "args": {"depth": 1}},
            {"id": "a", "op": "call", "module": "linear", "in": ["backbone"], "args": {"in": 64, "out": 10}},
            {"id": "b", "op": "call", "module": "linear", "in": ["backbone"], "args": {"in": 64, "out": 10}}],
        "outputs": {"a": "a", "b": "b"}}},
    "data": {"dataset": "fashion-mnist", "normalize": {"mean": 0.286, "std": 0.353},
             "views": {"v": {"size": 28, "pad": 2, "flip": 0.5}}},
    "networks": {"net": {"module": "two_heads"}},
    "objective": {
        "inputs": {"image": {"shape": ["batch", 1, 28, 28], "source": "v"},
                   "label": {"shape": ["batch"], "dtype": "i32", "source": "label"}},
        "nodes": [
            {"id": "net", "op": "call", "network": "net", "in": ["image"]},
            {"id": "ce_a", "op": "call", "module": "cross_entropy", "in": ["net.a", "label"], "args": {"classes": 10}},
            {"id": "ce_b", "op": "call", "module": "cross_entropy", "in": ["net.b", "label"], "args": {"classes": 10}},
            {"id": "loss", "op": "add", "in": ["ce_a", "ce_b"]}],
        "loss": "loss"},
    "optimizer": {"kind": "adamw", "lr": 1e-3},
    "train": {"epochs": 1, "batch_size": 64, "seed": 0,
              "eval": {"kind": "accuracy", "network": "net", "output": ["a", "b"]}},
}


def main():
    kiln, models = sys.argv[1], os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix='kiln-heads-')
    try:
        os.symlink(os.path.join(models, 'lib'), os.path.join(work, 'lib'))
        graphs = {}
        for name, output in [('both', ['a', 'b']), ('a', 'a'), ('b', 'b')]:
            g = json.loads(json.dumps(GRAPH))
            g['train']['eval']['output'] = output
            graphs[name] = os.path.join(work, name + '.json')
            json.dump(g, open(graphs[name], 'w'))
        run = os.path.join(work, 'run')
        subprocess.run([kiln, 'train', graphs['both'], '--data', 'synthetic:4096', '--threads', '2',
                        '--quiet', '--out', run], check=True)
        last = [json.loads(line) for line in open(os.path.join(run, 'metrics.jsonl'))][-1]
        print('two heads:', {k: v for k, v in last.items() if k.startswith('test_accuracy')})
        failed = last.get('test_accuracy') != last.get('test_accuracy/a')
        for head in ('a', 'b'):
            art = os.path.join(work, head + '.kiln')
            subprocess.run([kiln, 'compile', graphs[head], '-o', art, '--quiet'], check=True)
            alone = json.loads(subprocess.run(
                [kiln, 'eval', art, '--params', os.path.join(run, 'params.safetensors'), '--data',
                 'synthetic:4096', '--threads', '2'], check=True, capture_output=True, text=True).stdout)
            print('head %s alone: %s' % (head, alone['test_accuracy']))
            failed |= alone['test_accuracy'] != last.get('test_accuracy/' + head)
        if failed:
            print('FAIL: the heads\' accuracies differ from their single-head evaluations')
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
