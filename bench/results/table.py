"""Tabulates bench/results/run's kiln runs against the reference (markdown
on stdout, JSON beside the artifacts)."""
import argparse
import json
import os

METRIC = {'sup': 'test accuracy', 'sd': 'test accuracy', 'mtl': 'test accuracy',
          'dino': 'k-NN top-1', 'kd': 'test accuracy (student)'}


def kiln_run(model, epochs):
    run = 'runs/vit-fm-%s-%dep' % (model, epochs)
    summary = json.load(open(os.path.join(run, 'summary.json')))
    per_epoch, extra, last_step = [], {}, {}
    for line in open(os.path.join(run, 'metrics.jsonl')):
        r = json.loads(line)
        if 'test_accuracy' in r:
            per_epoch.append(100 * r['test_accuracy'])
            for k in ('test_mse', 'knn_top5', 'linear_probe'):
                if k in r:
                    extra[k] = r[k]
        else:
            last_step = r
    for k in ('sigma_cls', 'sigma_rec', 'teacher_accuracy'):
        if k in last_step:
            extra[k] = last_step[k]
    return {'per_epoch': per_epoch, 'seconds': summary['seconds'],
            'images_per_s': summary['images_per_s'], 'steps': summary['steps'], **extra}


def reference_run(model, epochs, out):
    """ref.py's JSON lines when bench/results/run --reference made them, else
    the recorded 3-epoch numbers."""
    path = os.path.join(out, 'ref-%s-%dep.jsonl' % (model, epochs))
    if os.path.exists(path):
        per_epoch, r = [], {}
        for line in open(path):
            e = json.loads(line)
            if e.get('event') in ('epoch', 'knn') and e.get('epoch', 0) > 0:
                value = e.get('knn_top1', e.get('test_acc'))
                if value is not None:
                    per_epoch.append(value)
            if e.get('event') == 'epoch' and 'test_mse' in e:
                r['test_mse'] = e['test_mse']
            if e.get('event') == 'done':
                r['seconds'] = e['wall_s']
        return {'per_epoch': per_epoch, 'source': 'ref.py, this run', **r}
    recorded = json.load(open('bench/results/reference.json'))
    if model not in recorded or epochs != recorded['epochs']:
        return None
    r = recorded[model]
    return {'per_epoch': r.get('test_accuracy', r.get('knn_top1')), 'test_mse': r.get('test_mse'),
            'images_per_s': 128 / (r['step_ms_with_data'] / 1000), 'source': 'perf-baseline.md'}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, required=True)
    ap.add_argument('--models', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    rows, results = [], {}
    print('| objective | metric | kiln per epoch | reference per epoch | kiln wall time | kiln img/s'
          ' | reference img/s | notes |')
    print('|---|---|---|---|---|---|---|---|')
    for m in args.models.split():
        k = kiln_run(m, args.epochs)
        ref = reference_run(m, args.epochs, args.out)
        results[m] = {'kiln': k, 'reference': ref}
        fmt = lambda xs: ', '.join('%.2f' % x for x in xs)  # noqa: E731
        notes = []
        if 'test_mse' in k:
            notes.append('test MSE %.4f (ref %s)' % (k['test_mse'], ref.get('test_mse') if ref else '-'))
        if 'sigma_cls' in k:
            notes.append('sigmas %.3f / %.3f' % (k['sigma_cls'], k['sigma_rec']))
        if 'knn_top5' in k:
            notes.append('k-NN top-5 %.2f' % (100 * k['knn_top5']))
        if 'linear_probe' in k:
            notes.append('linear probe %.2f' % (100 * k['linear_probe']))
        if 'teacher_accuracy' in k:
            notes.append('teacher train-batch accuracy %.2f' % (100 * k['teacher_accuracy']))
        ref_ips = ref.get('images_per_s') if ref else None
        print('| %s | %s | %s | %s | %dm%02ds | %.0f | %s | %s |' % (
            m, METRIC[m], fmt(k['per_epoch']), fmt(ref['per_epoch']) if ref else '-',
            k['seconds'] // 60, k['seconds'] % 60, k['images_per_s'],
            '%.0f' % ref_ips if ref_ips else '-', '; '.join(notes)))
    json.dump(results, open(os.path.join(args.out, 'results-%dep.json' % args.epochs), 'w'), indent=1)


if __name__ == '__main__':
    main()
