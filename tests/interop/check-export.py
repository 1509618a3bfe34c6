"""`kiln export` writes weights the PyTorch reference loads as they are: a
few steps of the model, exported, loaded with load_state_dict(strict=True)
(every name and shape must match) into ref.py's SupNet (supervised) or
DINO's MultiCropWrapper(ViTFM, DINOHead) (the DINO teacher: backbone and
head under DINOHead's names, weight_norm's weight_v and weight_g), then the
evaluation output of 500 test-like images from PyTorch (the logits; the
teacher's backbone feature) against kiln's eval entry (`kiln run --program
eval`) on the same parameters.

    check-export.py KILN MODEL.json [--network NAME]

Exit 77 (skip) without Debian's python3-torch or ../shared/reference.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, '..', '..', '..', 'shared', 'reference')
sys.path.insert(0, os.path.join(HERE, '..', 'pylib'))
from safetensors_entries import entries, write  # noqa: E402


def main():
    kiln, model = sys.argv[1], sys.argv[2]
    network = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == '--network' else None
    try:
        import numpy as np
        import torch
    except ImportError:
        print('SKIP: needs python3-torch and python3-numpy')
        return 77
    if not os.path.exists(os.path.join(REFERENCE, 'ref.py')):
        print('SKIP: no ../shared/reference/ref.py')
        return 77
    sys.path.insert(0, REFERENCE)
    sys.argv = ['ref.py']
    import ref
    work = tempfile.mkdtemp(prefix='kiln-export-')
    artifact, run = os.path.join(work, 'model.kiln'), os.path.join(work, 'run')
    subprocess.run([kiln, 'compile', model, '-o', artifact, '--quiet'], check=True)
    subprocess.run([kiln, 'train', artifact, '--steps', '5', '--data', 'synthetic:640', '--quiet',
                    '--out', run], check=True, capture_output=True)
    weights = os.path.join(work, 'weights.safetensors')
    subprocess.run([kiln, 'export', run, '-o', weights] + (['--network', network] if network else []),
                   check=True)

    state = {name: torch.from_numpy(np.frombuffer(raw, dtype=np.float32).reshape(shape).copy())
             for name, _, shape, raw in entries(weights)}
    if network:  # the DINO teacher; its output is the backbone's feature
        out_dim = state['head.last_layer.weight_v'].shape[0]
        net = ref.MultiCropWrapper(ref.ViTFM(drop_path=0.0), ref.DINOHead(64, out_dim, 256, 64, True))
        output, evaluate = 'output.feature', net.backbone
    else:
        net = ref.SupNet()
        output, evaluate = 'output.logits', lambda x: net(x)[1]
    net.load_state_dict(state, strict=True)
    net.eval()
    gen = torch.Generator().manual_seed(7)
    images = torch.randint(0, 256, (500, 28, 28), generator=gen, dtype=torch.uint8)
    x = ref.normalize(ref.to_float(images))
    with torch.no_grad():
        want = evaluate(x).numpy()
    inputs, outputs = os.path.join(work, 'in.safetensors'), os.path.join(work, 'out.safetensors')
    write(inputs, {'image': x.numpy().astype(np.float32)})
    subprocess.run([kiln, 'run', artifact, '--program', 'eval', '--params',
                    os.path.join(run, 'params.safetensors'), '--inputs', inputs, '--outputs',
                    outputs], check=True)
    got = {n: np.frombuffer(raw, dtype=np.float32).reshape(shape)
           for n, _, shape, raw in entries(outputs)}[output]
    err = float(np.abs(got - want).max() / np.abs(want).max())
    print('%d tensors loaded strictly into ref.py %s; %s of 500 images: '
          'max |kiln - torch| / max |torch| = %.2e'
          % (len(state), type(net).__name__, output, err))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if err <= 1e-4 else 1


if __name__ == '__main__':
    sys.exit(main())
