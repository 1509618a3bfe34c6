"""`train.eval.output` as a list scores several heads: each head's accuracy
is reported (test_accuracy/NAME, the first also as test_accuracy) and
equals what `kiln eval` gives for that head alone, with the same trained
parameters; so do a k-NN evaluation's (with its linear probe,
linear_probe/NAME) over the same heads as features.

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


def evaluate(kiln, work, name, eval_spec, params):
    """`kiln eval` of GRAPH with train.eval = eval_spec and the given parameters."""
    g = json.loads(json.dumps(GRAPH))
    g['train']['eval'] = dict(eval_spec, network='net')
    path, art = os.path.join(work, name + '.json'), os.path.join(work, name + '.kiln')
    json.dump(g, open(path, 'w'))
    subprocess.run([kiln, 'compile', path, '-o', art, '--quiet'], check=True)
    return json.loads(subprocess.run(
        [kiln, 'eval', art, '--params', params, '--data', 'synthetic:4096', '--threads', '2'],
        check=True, capture_output=True, text=True).stdout)


def check_heads(kiln, work, kind, both, params, spec=None):
    """Each head scored alone equals its NAME-suffixed keys in `both`."""
    keys = ['test_accuracy'] + (['linear_probe'] if spec and spec.get('linear_probe') else [])
    print('%s, two heads: %s' % (kind, {k: v for k, v in both.items() if k.split('/')[0] in keys}))
    failed = both.get('test_accuracy') != both.get('test_accuracy/a')
    for head in ('a', 'b'):
        alone = evaluate(kiln, work, '%s-%s' % (kind, head), dict(spec or {'kind': kind}, output=head),
                         params)
        print('%s, head %s alone: %s' % (kind, head, {k: alone.get(k) for k in keys}))
        failed |= any(alone.get(k) is None or alone[k] != both.get(k + '/' + head) for k in keys)
    return failed


def main():
    kiln, models = sys.argv[1], os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix='kiln-heads-')
    try:
        os.symlink(os.path.join(models, 'lib'), os.path.join(work, 'lib'))
        graphs = {'both': os.path.join(work, 'both.json')}
        json.dump(GRAPH, open(graphs['both'], 'w'))
        run = os.path.join(work, 'run')
        subprocess.run([kiln, 'train', graphs['both'], '--data', 'synthetic:4096', '--threads', '2',
                        '--quiet', '--out', run], check=True)
        params = os.path.join(run, 'params.safetensors')
        last = [json.loads(line) for line in open(os.path.join(run, 'metrics.jsonl'))][-1]
        failed = check_heads(kiln, work, 'accuracy', last, params)
        knn = {'kind': 'knn', 'k': 10, 'linear_probe': True}
        both = evaluate(kiln, work, 'knn-both', dict(knn, output=['a', 'b']), params)
        failed |= check_heads(kiln, work, 'knn', both, params, knn)
        if failed:
            print('FAIL: the heads\' scores differ from their single-head evaluations')
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
