#!/usr/bin/python3
"""PyTorch reference trainers for kiln's ResNet distillation and DINO graphs.

  train_objective.py --objective sd|kd|dino [--epochs 3] [--steps N]
                     [--threads 2] [--seed 0] [--out FILE.json]
                     [--teacher PATH] [--eval-images N] [--no-eval]
                     [--checkpoint PATH [--checkpoint-every 100]]

Each objective follows its graph (checked at start: the values below are
compared with the graph file, and any difference is printed and put in
the result as 'graph_mismatches'). All: Fashion-MNIST, (x/255 - 0.2860)/0.3530,
batch 128, 468 steps an epoch (60000 // 128, the last partial batch
dropped), 3 epochs, schedules per iteration (DINO's cosine_scheduler). The
loop, data, timing and result JSON are train.py's; the objectives' pieces
(views, SD loss, DINO head/loss/crops, k-NN) are ref.py's
(/work/shared/reference/ref.py).

sd   models/resnet-fm-sd.json: sup_net with the CIFAR ResNet-20 backbone
     (fc left out; convs kaiming normal fan_out, BN 1/0) and a linear head
     (trunc_normal 0.02, zero bias: vit.json's `linear`); two independent
     'distorted' views (pad-2 random crop, flip 0.5, + N(0, 0.1^2) on [0, 1]
     pixels, no clamp) concatenated through one call (batch norm over 2B);
     CE(a) + CE(b) + KL(pa||pb) + KL(pb||pa) + ||mean f_a - mean f_b||^2
     (ref.sd_loss, all weights 1). SGD momentum 0.9, wd 5e-4 on every
     parameter, lr 0.1 cosine to 0. Eval: test accuracy of the logits.
kd   models/resnet-fm-kd.json: frozen ResNet-56 teacher (eval mode: running
     statistics) from --teacher (default: the graph's init_from, i.e.
     runs/resnet56-fm-sup/params.safetensors of this checkout, names
     'net.' + PyTorch's, running statistics included); ResNet-20 student
     (convs kaiming normal fan_out, fc PyTorch default); pad-2 crop + flip;
     0.1*CE + 0.9*T^2*KL(softmax(t/T)||softmax(s/T)), T 4; SGD as sd.
     Eval: the student's test accuracy (and the teacher's, for reference).
     A missing teacher file is an error (exit 2), said on stderr and in --out.
dino models/resnet-fm-dino.json: student and EMA teacher = ResNet-20 backbone
     (64 features) + DINOHead(64 -> 256 -> 256 -> 64, l2-norm, weight-normed
     1024 with g = 1), both in training mode (batch statistics; the EMA
     averages parameters only, each keeps its own running statistics);
     2 global crops (28, scale 0.4-1, blur p 1.0 / p 0.1 + solarize 0.2) and
     4 local (12, scale 0.1-0.4, blur 0.5), jitter p 0.8 (0.4, 0.4), flip;
     the student sees globals and locals in two calls, the teacher globals;
     DINOLoss (student temp 0.1, centre momentum 0.9, teacher temp 0.04 ->
     0.07 over max(1, round(0.3 epochs)) epochs). LARS (DINO utils.LARS,
     momentum 0.9, eta 0.001; wd 1e-6 except biases and 1-D tensors, which
     also get no trust ratio), lr 0.3*128/256 = 0.15 with a linear warmup
     over round(10%) of the iterations from 0, cosine to 0.0048; no gradient
     clipping; student.head.last_layer frozen in epoch 0 (no update, no
     momentum); teacher momentum 0.996 cosine to 1. Eval: kiln's k-NN
     (k 20, T 0.07, exp(sim/T) votes) on the l2-normalised teacher backbone
     features in eval mode, the 60000 training images as the bank
     (test_accuracy = top-1, knn_top5), and kiln's linear probe on the
     unnormalised features (runtime/train/LinearProbe.cpp).

Not the same as kiln (cannot be made so, or not worth it):
- random streams: kiln draws shuffles, augmentations and initial weights
  from its own counter-based generator; here torch generators (seeded by
  --seed) draw the same distributions, so runs agree statistically only.
- evaluation only after the last epoch (kiln evaluates after every epoch;
  compare with its last line). --eval-images N (smoke tests) evaluates on
  the first N test images and, for k-NN and the probe, the first N
  training images.
- single process: synchronised batch norm is plain batch norm.
- DINO's weight-normed last layer: kiln divides by max(||v||, 1e-12),
  nn.utils.weight_norm by ||v||; weight_g is kiln module state, here a
  frozen parameter (the EMA keeps it at 1).
- k-NN ties: kiln breaks equal votes towards the lower class, torch.sort
  arbitrarily; the probe shuffles with torch instead of kiln's generator.
"""
import argparse
import collections
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
REF_DIR = os.environ.get('KILN_REFERENCE', os.path.normpath(os.path.join(REPO, '..', 'shared', 'reference')))
sys.path.insert(0, HERE)
sys.path.insert(0, REF_DIR)
import train as common  # noqa: E402  (this directory's train.py: data, loop, result)
import ref  # noqa: E402  (ref.py: the ViT versions of these objectives)
from safetensors_entries import entries, write as write_safetensors  # noqa: E402  (tests/pylib, via train.py)

BATCH = common.BATCH
GRAPHS = {'sd': 'resnet-fm-sd', 'kd': 'resnet-fm-kd', 'dino': 'resnet-fm-dino'}

# ----------------------------------------------------------------------------- the recipes' values
SGD_LR, SGD_FINAL_LR, SGD_MOMENTUM, SGD_WD = 0.1, 0.0, 0.9, 5e-4
SD_NOISE = 0.1
KD_T, KD_ALPHA = 4.0, 0.9
DINO_K, DINO_LOCAL = 1024, 4
DINO_LR, DINO_MIN_LR, DINO_WARMUP_FRACTION, DINO_WD = 0.3, 0.0048, 0.1, 1e-6
DINO_MOMENTUM, DINO_TEACHER_MOMENTUM = 0.9, 0.996
DINO_TT_START, DINO_TT_END, DINO_TT_WARMUP_FRACTION = 0.04, 0.07, 0.3
DINO_FREEZE_EPOCHS = 1
KNN_K, KNN_T = 20, 0.07
ABSENT = object()

PAD_VIEW = {'size': 28, 'pad': 2, 'flip': 0.5}
JITTER = {'p': 0.8, 'brightness': 0.4, 'contrast': 0.4}
SGD = {'kind': 'sgd', 'lr': 'lr', 'momentum': SGD_MOMENTUM, 'weight_decay': SGD_WD}
SGD_LR_SCHEDULE = {'kind': 'warmup_cosine', 'base': SGD_LR, 'final': SGD_FINAL_LR, 'warmup_epochs': 0}
COMMON = {'/data/dataset': 'fashion-mnist', '/data/normalize': {'mean': ref.MEAN, 'std': ref.STD},
          '/train/epochs': 3, '/train/batch_size': BATCH, '/train/seed': 0}
# What this script assumes of each graph (JSON pointer: value; ABSENT: no such key).
CHECKS = {
    'sd': {'/networks/net': {'module': 'sup_net', 'args': {'resnet': 3}},
           '/data/views/distorted': {**PAD_VIEW, 'noise': {'std': SD_NOISE}},
           '/args': {'ce_weight': 1, 'kl_weight': 1, 'mmd_weight': 1},
           '/optimizer': SGD, '/schedules': {'lr': SGD_LR_SCHEDULE},
           '/train/eval': {'kind': 'accuracy', 'network': 'net', 'output': 'logits'}},
    'kd': {'/networks/teacher/args': {'classes': 10, 'in_channels': 1, 'n': 9},
           '/networks/teacher/frozen': True, '/networks/teacher/init_prefix': 'net.',
           '/networks/student': {'module': 'cifar_resnet', 'args': {'classes': 10, 'in_channels': 1, 'n': 3}},
           '/data/views/train_view': PAD_VIEW, '/args': {'T': KD_T, 'alpha': KD_ALPHA},
           '/optimizer': SGD, '/schedules': {'lr': SGD_LR_SCHEDULE},
           '/train/eval': {'kind': 'accuracy', 'network': 'student', 'output': 'logits'}},
    'dino': {'/networks/student': {'module': 'dino_net', 'args': {'K': 'K', 'resnet': 3, 'sync': 1}},
             '/networks/teacher': {'module': 'dino_net', 'ema_of': 'student', 'momentum': 'teacher_momentum',
                                   'args': {'K': 'K', 'resnet': 3, 'sync': 1}},
             '/args': {'K': DINO_K, 'n_local': DINO_LOCAL, 'ncrops': '2+n_local'},
             '/data/views': {
                 'global1': {'size': 28, 'scale': [0.4, 1.0], 'flip': 0.5, 'color_jitter': JITTER,
                             'blur': {'p': 1.0, 'sigma': [0.1, 2.0]}},
                 'global2': {'size': 28, 'scale': [0.4, 1.0], 'flip': 0.5, 'color_jitter': JITTER,
                             'blur': {'p': 0.1, 'sigma': [0.1, 2.0]}, 'solarize': {'p': 0.2}},
                 'local': {'size': 12, 'count': 'n_local', 'scale': [0.1, 0.4], 'flip': 0.5,
                           'color_jitter': JITTER, 'blur': {'p': 0.5, 'sigma': [0.1, 2.0]}}},
             '/schedules': {
                 'lr': {'kind': 'warmup_cosine', 'base': DINO_LR, 'final': DINO_MIN_LR,
                        'warmup_fraction': DINO_WARMUP_FRACTION, 'scale_with_batch': True},
                 'wd': {'kind': 'constant', 'value': DINO_WD},
                 'teacher_momentum': {'kind': 'warmup_cosine', 'base': DINO_TEACHER_MOMENTUM, 'final': 1.0},
                 'teacher_temp': {'kind': 'epoch_linear_warmup', 'start': DINO_TT_START, 'end': DINO_TT_END,
                                  'warmup_fraction': DINO_TT_WARMUP_FRACTION}},
             '/optimizer': {'kind': 'lars', 'lr': 'lr', 'weight_decay': 'wd', 'momentum': DINO_MOMENTUM,
                            'groups': [{'match': '*.bias', 'weight_decay': 0},
                                       {'match': 'ndim<2', 'weight_decay': 0}],
                            'freeze': [{'match': 'student.head.last_layer.*', 'epochs': DINO_FREEZE_EPOCHS}]},
             '/train/eval': {'kind': 'knn', 'network': 'teacher', 'output': 'feature', 'k': KNN_K,
                             'temperature': KNN_T, 'linear_probe': True}},
}


def without_doc(v):
    if isinstance(v, dict):
        return {k: without_doc(x) for k, x in v.items() if k != 'doc'}
    if isinstance(v, list):
        return [without_doc(x) for x in v]
    return v


def check_graph(objective):
    """The graph file and its differences from CHECKS (printed)."""
    path = os.path.join(REPO, 'models', GRAPHS[objective] + '.json')
    with open(path) as f:
        graph = json.load(f)
    mismatches = []
    for pointer, want in {**COMMON, **CHECKS[objective]}.items():
        node = graph
        for key in pointer.strip('/').split('/'):
            node = node[int(key)] if isinstance(node, list) else node.get(key, ABSENT)
            if node is ABSENT:
                break
        if node is ABSENT or without_doc(node) != want:
            mismatches.append('%s is %s in the graph, %s here' % (
                pointer, 'absent' if node is ABSENT else json.dumps(without_doc(node)),
                'absent' if want is ABSENT else json.dumps(want)))
    for m in mismatches:
        print('WARNING: %s differs from this reference: %s' % (os.path.relpath(path, REPO), m),
              file=sys.stderr)
    return path, graph, mismatches


# ----------------------------------------------------------------------------- pieces ref.py has not
class SupNet(nn.Module):
    """lib/classifiers.json sup_net with resnet 3: backbone (ResNet-20 without
    fc) + linear head (trunc_normal 0.02, zero bias); returns (feature, logits)
    as ref.SupNet does."""

    def __init__(self, n=3, classes=10):
        super().__init__()
        self.backbone = common.cifar_model(n, classes=0)
        self.head = nn.Linear(64, classes)
        ref._init_weights(self.head)

    def forward(self, x):
        f = self.backbone(x)
        return f, self.head(f)


class LARS(torch.optim.Optimizer):
    """DINO's utils.LARS: tensors of ndim != 1 get weight decay and the trust
    ratio eta*||p||/||dp||; then momentum (mu = m*mu + dp), p -= lr*mu.
    Parameters without a gradient (the frozen last layer) are skipped."""

    def __init__(self, params, lr=0.0, weight_decay=0.0, momentum=0.9, eta=0.001):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g['params']:
                dp = p.grad
                if dp is None:
                    continue
                if p.ndim != 1:
                    dp = dp.add(p, alpha=g['weight_decay'])
                    pn, un = torch.norm(p), torch.norm(dp)
                    one = torch.ones_like(pn)
                    dp = dp.mul(torch.where(pn > 0., torch.where(un > 0, g['eta'] * pn / un, one), one))
                state = self.state[p]
                if 'mu' not in state:
                    state['mu'] = torch.zeros_like(p)
                state['mu'].mul_(g['momentum']).add_(dp)
                p.add_(state['mu'], alpha=-g['lr'])


def kd_loss(s, t, T):
    """lib/losses.json kd_loss: T^2 KL(softmax(t/T) || softmax(s/T)), batch mean."""
    return F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1).detach(),
                    reduction='batchmean', log_target=True) * (T * T)


@torch.no_grad()
def linear_probe(ftr, ytr, fte, yte, seed, epochs=20, batch=256, lr=1e-2, classes=10):
    """kiln's runtime/train/LinearProbe.cpp in float64: features standardised
    with the training set's mean and (population) std, softmax regression
    with a bias from zeros, Adam (0.9, 0.999, 1e-8), lr cosine per step from
    lr over epochs x ceil(n / batch) steps, the last batch partial."""
    mean = ftr.double().mean(0)
    inv = 1.0 / torch.sqrt(ftr.double().var(0, unbiased=False) + 1e-12)

    def design(f):
        x = (f.double() - mean) * inv
        return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)

    xtr, xte = design(ftr), design(fte)
    w = torch.zeros(classes, xtr.shape[1], dtype=torch.float64)
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    n = len(xtr)
    steps, step = epochs * ((n + batch - 1) // batch), 0
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            p = torch.softmax(xtr[idx] @ w.t(), 1)
            p[torch.arange(len(idx)), ytr[idx]] -= 1
            g = p.t() @ xtr[idx] / len(idx)
            step += 1
            lr_t = 0.5 * lr * (1 + math.cos(math.pi * (step - 1) / steps))
            m.mul_(0.9).add_(0.1 * g)
            v.mul_(0.999).add_(0.001 * g * g)
            w -= lr_t * (m / (1 - 0.9 ** step)) / (torch.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return float(((xte @ w.t()).argmax(1) == yte).double().mean())


# ----------------------------------------------------------------------------- recipes
# trained: the network whose parameters are counted; prepare(indices) -> batch;
# step(batch, iteration, epoch) -> (loss, metrics); evaluate(xtr, ytr, xte, yte)
# -> {'test_accuracy': ..., ...}; lr_at: the lr per iteration (progress lines);
# state: {name: object with state_dict/load_state_dict}, all that training
# changes (nets, optimizers, DINO's loss with its centre): the checkpoint.
Recipe = collections.namedtuple('Recipe', 'trained prepare step evaluate lr_at config state')


def sgd_step(opt, lr_at, it, loss):
    for g in opt.param_groups:
        g['lr'] = float(lr_at[it])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def sd_recipe(args, gen, xtr, ytr, steps_per_epoch):
    net = SupNet()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM, weight_decay=SGD_WD)
    lr_at = common.cosine_schedule(SGD_LR, SGD_FINAL_LR, args.epochs * steps_per_epoch)

    def prepare(idx):
        x01 = ref.to_float(xtr[idx])
        return ref.sd_view(x01, gen, SD_NOISE), ref.sd_view(x01, gen, SD_NOISE), ytr[idx]

    def step(batch, it, epoch):
        loss, parts = ref.sd_loss(net, *batch)
        return sgd_step(opt, lr_at, it, loss), parts

    def evaluate(xtr_e, ytr_e, xte_e, yte_e):
        return {'test_accuracy': common.evaluate(net, xte_e, yte_e, logits_of=lambda out: out[1])}

    return Recipe(net, prepare, step, evaluate, lr_at, {}, {'net': net, 'opt': opt})


def load_teacher(path, prefix):
    """The frozen ResNet-56 from kiln's safetensors (prefix + PyTorch's names,
    parameters and running statistics), in eval mode."""
    dtypes = {'F32': np.float32, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64}
    have = {name: (dtype, shape, raw) for name, dtype, shape, raw in entries(path)}
    net = common.cifar_model(9)
    sd, missing = {}, []
    for name in net.state_dict():
        if prefix + name not in have:
            missing.append(prefix + name)
            continue
        dtype, shape, raw = have[prefix + name]
        sd[name] = torch.from_numpy(np.frombuffer(raw, dtype=dtypes[dtype]).reshape(shape).copy())
    if missing:
        raise SystemExit('resnet-fm-kd: %s lacks %d teacher tensors (e.g. %s)' % (path, len(missing), missing[0]))
    net.load_state_dict(sd, strict=True)  # copy_ casts kiln's f32 num_batches_tracked
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def kd_recipe(args, gen, xtr, ytr, steps_per_epoch):
    teacher = load_teacher(args.teacher, args.teacher_prefix)
    student = common.cifar_model(3)
    student.train()
    opt = torch.optim.SGD(student.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM, weight_decay=SGD_WD)
    lr_at = common.cosine_schedule(SGD_LR, SGD_FINAL_LR, args.epochs * steps_per_epoch)

    def prepare(idx):
        return common.normalize(common.pad_crop_flip(xtr[idx], gen)), ytr[idx]

    def step(batch, it, epoch):
        x, y = batch
        with torch.no_grad():
            t = teacher(x)
        s = student(x)
        ce, kd = F.cross_entropy(s, y), kd_loss(s, t, KD_T)
        loss = (1 - KD_ALPHA) * ce + KD_ALPHA * kd
        return sgd_step(opt, lr_at, it, loss), {'ce': ce.item(), 'kd': kd.item()}

    def evaluate(xtr_e, ytr_e, xte_e, yte_e):
        return {'test_accuracy': common.evaluate(student, xte_e, yte_e),
                'teacher_test_accuracy': common.evaluate(teacher, xte_e, yte_e)}

    return Recipe(student, prepare, step, evaluate, lr_at, {'teacher': os.path.abspath(args.teacher)},
                  {'student': student, 'opt': opt})  # the teacher is frozen, in eval mode


def dino_recipe(args, gen, xtr, ytr, steps_per_epoch):
    def dino_net():
        return ref.MultiCropWrapper(common.cifar_model(3, classes=0), ref.DINOHead(64, DINO_K, 256, 64, True))

    student, teacher = dino_net(), dino_net()
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    student.train()
    teacher.train()  # batch statistics, as DINO's (and kiln's) teacher
    epochs, total = args.epochs, args.epochs * steps_per_epoch
    warm_tt = min(max(1, int(round(DINO_TT_WARMUP_FRACTION * epochs))), epochs)
    loss_fn = ref.DINOLoss(DINO_K, 2 + DINO_LOCAL, DINO_TT_START, DINO_TT_END, warm_tt, epochs)
    opt = LARS(ref.get_params_groups(student), weight_decay=DINO_WD, momentum=DINO_MOMENTUM)
    lr_at = ref.cosine_scheduler(DINO_LR * BATCH / 256.0, DINO_MIN_LR, epochs, steps_per_epoch,
                                 warmup_iters=int(round(DINO_WARMUP_FRACTION * total)))
    mom_at = ref.cosine_scheduler(DINO_TEACHER_MOMENTUM, 1.0, epochs, steps_per_epoch)

    def prepare(idx):
        return ref.dino_crops(xtr[idx], gen, DINO_LOCAL)

    def step(crops, it, epoch):
        for g in opt.param_groups:
            g['lr'] = float(lr_at[it])
        with torch.no_grad():
            t_out = teacher(crops[:2])
        loss = loss_fn(student(crops), t_out, epoch)  # also moves the centre
        opt.zero_grad(set_to_none=True)
        loss.backward()
        ref.cancel_gradients_last_layer(epoch, student, DINO_FREEZE_EPOCHS)
        opt.step()
        m = float(mom_at[it])
        with torch.no_grad():
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(m).add_(ps.detach(), alpha=1 - m)
        return loss.item(), {'teacher_temp': float(loss_fn.teacher_temp_schedule[epoch]), 'momentum': m,
                             'teacher_entropy': loss_fn.stats['teacher_entropy']}

    def evaluate(xtr_e, ytr_e, xte_e, yte_e):
        ftr = ref.extract_features(teacher.backbone, xtr_e)
        fte = ref.extract_features(teacher.backbone, xte_e)
        top1, top5 = ref.knn_classifier(F.normalize(ftr, dim=1), ytr_e, F.normalize(fte, dim=1), yte_e,
                                        k=KNN_K, T=KNN_T)
        return {'test_accuracy': top1 / 100.0, 'knn_top5': top5 / 100.0,
                'linear_probe': linear_probe(ftr, ytr_e, fte, yte_e, args.seed)}

    return Recipe(student, prepare, step, evaluate, lr_at,
                  {'knn_k': KNN_K, 'knn_temperature': KNN_T, 'teacher_temp_warmup_epochs': warm_tt},
                  {'student': student, 'teacher': teacher, 'opt': opt, 'loss': loss_fn})  # loss: the centre


RECIPES = {'sd': sd_recipe, 'kd': kd_recipe, 'dino': dino_recipe}


def make_random_teacher(path, seed=0):
    """A randomly initialised ResNet-56 as kiln would write it (smoke tests)."""
    torch.manual_seed(seed)
    net = common.cifar_model(9)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_safetensors(path, {'net.' + n: t.detach().float().numpy() for n, t in net.state_dict().items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--objective', required=True, choices=sorted(RECIPES))
    common.add_common_args(ap)
    ap.add_argument('--teacher', default=None,
                    help="kd: the teacher's safetensors (default: the graph's init_from)")
    ap.add_argument('--teacher-prefix', default=None, help="kd: its names' prefix (default: the graph's, 'net.')")
    ap.add_argument('--eval-images', type=int, default=0,
                    help='evaluate on the first N test (and k-NN bank / probe: training) images only (smoke tests)')
    ap.add_argument('--write-random-teacher', metavar='PATH',
                    help="write a random ResNet-56 teacher in kiln's format to PATH and exit (smoke tests)")
    args = ap.parse_args()
    if args.write_random_teacher:
        return make_random_teacher(args.write_random_teacher, args.seed)
    model = GRAPHS[args.objective]
    graph_path, graph, mismatches = check_graph(args.objective)
    if args.objective == 'kd':
        teacher = graph['networks']['teacher']
        if args.teacher is None:
            args.teacher = os.path.normpath(os.path.join(os.path.dirname(graph_path), teacher['init_from']))
        if args.teacher_prefix is None:
            args.teacher_prefix = teacher.get('init_prefix', '')
        if not os.path.isfile(args.teacher):
            msg = ('TEACHER MISSING: %s does not exist. Train the ResNet-56 teacher first '
                   '(kiln train models/resnet56-fm-sup.json --out runs/resnet56-fm-sup) or pass --teacher FILE '
                   "(kiln's names, prefix '%s')." % (args.teacher, args.teacher_prefix))
            print('%s: %s' % (model, msg), file=sys.stderr)
            if args.out:
                os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
                with open(args.out, 'w') as f:
                    json.dump({'model': model, 'error': msg, 'teacher': args.teacher}, f, indent=1)
                    f.write('\n')
            sys.exit(2)
    gen = common.setup(args)

    xtr, ytr, xte, yte = common.load_fashion_mnist(args.data)
    steps_per_epoch = xtr.shape[0] // BATCH  # 468
    total = args.epochs * steps_per_epoch
    run_steps = total if args.steps is None else min(args.steps, total)
    r = RECIPES[args.objective](args, gen, xtr, ytr, steps_per_epoch)
    nparams = sum(p.numel() for p in r.trained.parameters() if p.requires_grad)
    print('%s: %d trained parameters, %d epochs x %d steps = %d (running %d), batch %d, %d threads, torch %s'
          % (model, nparams, args.epochs, steps_per_epoch, total, run_steps, BATCH, args.threads,
             torch.__version__), file=sys.stderr)

    run = common.train_loop(args, xtr.shape[0], steps_per_epoch, run_steps, gen, r.prepare, r.step, r.lr_at,
                            state=r.state, identity={'model': model, **r.config})

    evals, eval_s = {'test_accuracy': None}, None
    if not args.no_eval:
        n_te = args.eval_images or xte.shape[0]
        n_tr = args.eval_images or xtr.shape[0]
        t0 = time.perf_counter()
        evals = r.evaluate(xtr[:n_tr], ytr[:n_tr], xte[:n_te], yte[:n_te])
        eval_s = time.perf_counter() - t0
        print('%s (%d test images%s, %.1f s)' % (
            ', '.join('%s %.4f' % kv for kv in evals.items()), n_te,
            ', bank %d' % n_tr if args.objective == 'dino' else '', eval_s), file=sys.stderr)
    config = {'objective': args.objective, 'graph': os.path.relpath(graph_path, REPO),
              'graph_mismatches': mismatches, 'eval_images': args.eval_images or None, **r.config}
    common.write_result(args, common.result_record(args, model, nparams, total, run, evals, eval_s, config))


if __name__ == '__main__':
    main()
