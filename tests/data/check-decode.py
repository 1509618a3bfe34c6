"""kiln's image decoding (runtime/data/Decode.cpp) against PIL, the oracle:
torchvision's ImageFolder loads every image with
`Image.open(f).convert("RGB")` (and a grayscale input is `.convert("L")`).

Test images are made at run time from Fashion-MNIST: RGB = (x, 0.6x + 40,
255 - 0.8x), upscaled with PIL's bicubic to 500x375 and 121x91 (sides that
leave partial 8x8 and 16x16 blocks). PIL writes JPEG (4:2:0, 4:4:4, gray,
CMYK, progressive), PNG (L, LA, RGB, RGBA, palette with transparency) and
WebP (lossy, lossless, with alpha); a small writer here adds what PIL cannot
write: interlaced and 16-bit PNG. Every file must decode byte for byte as
PIL decodes it, to 3 and to 1 channels. JPEG at 1/2, 1/4 and 1/8 must equal
PIL's draft() of the same size (the same libjpeg DCT scaling). One case
follows kiln's rule instead of PIL: a 16-bit gray PNG is PIL mode "I",
which convert() clips; kiln takes the high byte as for every 16-bit file.
Truncated, empty, garbage and non-image files must make the tool exit 1
naming the file, with and without the probe.

    check-decode.py DECODE_TOOL

DECODE_TOOL is tests/data/decode-tool.cpp built. Exit 77 (skip) without
Debian's python3-pil and python3-numpy or dataset-fashion-mnist; 1 if any
case fails.
"""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

FASHION = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'
SIZES = [(500, 375), (121, 91)]  # width, height
# Adam7: first column, first row, column step, row step of each pass.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
         (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, array, color_type, interlace=False):
    """A PNG of a uint8 or uint16 array (H, W) or (H, W, C), unfiltered."""
    depth = 16 if array.dtype == np.uint16 else 8
    height, width = array.shape[:2]
    data = array.astype('>u2') if depth == 16 else array
    rows = []
    for x0, y0, dx, dy in ADAM7 if interlace else [(0, 0, 1, 1)]:
        for row in data[y0::dy, x0::dx]:
            if row.size:
                rows.append(b'\0' + row.tobytes())

    def chunk(kind, payload):
        return (struct.pack('>I', len(payload)) + kind + payload +
                struct.pack('>I', zlib.crc32(kind + payload)))
    header = struct.pack('>IIBBBBB', width, height, depth, color_type, 0, 0, int(interlace))
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                chunk(b'IDAT', zlib.compress(b''.join(rows))) + chunk(b'IEND', b''))


def fashion(count):
    with gzip.open(FASHION) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:count]


def make_files(work, x, mask, size):
    """The test files of one size: [(label, path, expected)], where expected
    maps a PIL mode to the oracle's pixels (None: PIL's own decode)."""
    x = x.astype(np.float64)
    rgb = np.stack([x, 0.6 * x + 40, 255 - 0.8 * x], -1).round().astype(np.uint8)
    im = Image.fromarray(rgb, 'RGB').resize(size, Image.BICUBIC)
    alpha = Image.fromarray(mask, 'L').resize(size, Image.BICUBIC)
    rgba = im.copy()
    rgba.putalpha(alpha)
    tag = '%dx%d' % size
    files = []

    def save(label, image, ext, **options):
        path = os.path.join(work, '%s-%s.%s' % (label, tag, ext))
        image.save(path, **options)
        files.append((label, path, None))

    save('jpeg-420', im, 'jpg', quality=90, subsampling=2)
    save('jpeg-444', im, 'jpg', quality=90, subsampling=0)
    save('jpeg-gray', im.convert('L'), 'jpg', quality=90)
    save('jpeg-cmyk', im.convert('CMYK'), 'jpg', quality=90)
    save('jpeg-progressive', im, 'jpg', quality=90, progressive=True)
    save('png-L', im.convert('L'), 'png')
    save('png-LA', rgba.convert('LA'), 'png')
    save('png-RGB', im, 'png')
    save('png-RGBA', rgba, 'png')
    palette = im.quantize(64)
    save('png-P-trns', palette, 'png', transparency=bytes(range(0, 256, 4)))
    save('webp-lossy', im, 'webp', quality=80)
    save('webp-lossless', im, 'webp', lossless=True)
    save('webp-lossy-alpha', rgba, 'webp', quality=80)
    save('webp-lossless-alpha', rgba, 'webp', lossless=True)

    pixels = np.asarray(im)
    path = os.path.join(work, 'png-RGB-interlaced-%s.png' % tag)
    write_png(path, pixels, 2, interlace=True)
    files.append(('png-RGB-interlaced', path, None))
    # 16 bits: the high byte is the image, the low byte varies (PIL keeps the
    # high byte; rounding would differ wherever the low byte is >= 0x80).
    low = (np.arange(pixels.size, dtype=np.uint16) * 37 % 256).reshape(pixels.shape)
    wide = pixels.astype(np.uint16) << 8 | low
    path = os.path.join(work, 'png-RGB16-%s.png' % tag)
    write_png(path, wide, 2)
    files.append(('png-RGB16', path, None))
    wide_alpha = np.dstack([wide, np.asarray(alpha).astype(np.uint16) * 257])
    path = os.path.join(work, 'png-RGBA16-%s.png' % tag)
    write_png(path, wide_alpha, 6, interlace=True)
    files.append(('png-RGBA16-interlaced', path, None))
    gray16 = wide[:, :, 0]
    path = os.path.join(work, 'png-L16-%s.png' % tag)
    write_png(path, gray16, 0)
    high = (gray16 >> 8).astype(np.uint8)
    files.append(('png-L16 (kiln: high byte)', path,
                  {'L': high, 'RGB': np.dstack([high] * 3)}))
    return files


def run_tool(tool, path, channels, scale, raw, probe=True):
    args = [tool, path, str(channels), str(scale), raw] + ([] if probe else ['--no-probe'])
    return subprocess.run(args, capture_output=True, text=True)


def decoded(tool, path, channels, scale, raw):
    """kiln's pixels (H, W[, C]) and probe line, or the tool's error text."""
    result = run_tool(tool, path, channels, scale, raw)
    if result.returncode != 0:
        return None, None, result.stderr.strip()
    lines = dict(l.split(' ', 1) for l in result.stdout.splitlines())
    h, w, c = map(int, lines['decoded'].split())
    pixels = np.fromfile(raw, np.uint8).reshape(h, w, c)
    return (pixels[:, :, 0] if c == 1 else pixels), lines['probe'], None


def compare(ours, expected):
    """'' when equal, else what differs."""
    if ours.shape != expected.shape:
        return 'shape %s, PIL %s' % (ours.shape, expected.shape)
    diff = np.abs(ours.astype(np.int16) - expected.astype(np.int16))
    if not diff.any():
        return ''
    return 'max difference %d (%d of %d values differ, mean %.4f)' % (
        diff.max(), np.count_nonzero(diff), diff.size, diff.mean())


def pil_decode(path, mode, scale):
    im = Image.open(path)
    if scale > 1:
        w, h = im.size
        im.draft('RGB', (w // scale, h // scale))
        want = (-(-w // scale), -(-h // scale))
        if im.size != want:
            raise RuntimeError('PIL draft gave %s, not %s' % (im.size, want))
    return np.asarray(im.convert(mode))


def check_good(tool, files, raw):
    failures = 0
    for label, path, expected in files:
        scales = [1, 2, 4, 8] if label.startswith('jpeg') else [1]
        tag = os.path.basename(path).rsplit('-', 1)[1].split('.')[0]
        im = Image.open(path)
        probe = '%s %d %d' % (im.format, im.size[0], im.size[1])
        for scale in scales:
            for channels, mode in [(3, 'RGB'), (1, 'L')]:
                case = '%-26s %-7s %-3s 1/%d' % (label, tag, mode, scale)
                ours, our_probe, error = decoded(tool, path, channels, scale, raw)
                if error:
                    print('FAIL %s: %s' % (case, error))
                    failures += 1
                    continue
                oracle = expected[mode] if expected else pil_decode(path, mode, scale)
                problem = compare(ours, oracle)
                if our_probe.rsplit(' ', 1)[0].upper() != probe.upper():
                    problem += ' probe "%s", PIL "%s"' % (our_probe, probe)
                print('%s %s: %s' % ('FAIL' if problem else 'ok  ', case, problem or 'equal'))
                failures += bool(problem)
                if expected:  # what PIL itself gives, for the record
                    pil = compare(ours, pil_decode(path, mode, scale))
                    print('     (PIL itself: %s)' % (pil or 'equal'))
    return failures


def bad_files(work, files):
    """[(label, path)] of files that must be refused."""
    by_label = {label: path for label, path, _ in files}
    bad = []

    def write(label, data):
        path = os.path.join(work, 'bad-%s' % label)
        with open(path, 'wb') as f:
            f.write(data)
        bad.append((label, path))

    for label in ['jpeg-420', 'jpeg-progressive', 'png-RGB', 'png-RGB-interlaced',
                  'webp-lossy', 'webp-lossless']:
        data = open(by_label[label], 'rb').read()
        write(label + '-half', data[:len(data) // 2])
    jpeg = open(by_label['jpeg-420'], 'rb').read()
    write('jpeg-no-FFD9', jpeg[:-2])
    write('jpeg-magic-then-garbage', jpeg[:3] + bytes(np.random.RandomState(1).bytes(2000)))
    png = open(by_label['png-RGB'], 'rb').read()
    write('png-no-IEND', png[:-12])
    write('empty', b'')
    write('garbage', bytes(np.random.RandomState(0).bytes(5000)))
    gif = os.path.join(work, 'bad-gif')
    Image.open(by_label['png-RGB']).save(gif, 'GIF')
    bad.append(('gif', gif))
    return bad


def check_bad(tool, bad, raw):
    failures = 0
    for label, path in bad:
        try:
            Image.open(path).convert('RGB')
            pil = 'PIL loads it'
        except Exception as e:  # noqa: BLE001 - any failure is PIL refusing
            pil = 'PIL fails too: %s' % type(e).__name__
        for probe in (True, False):
            result = run_tool(tool, path, 3, 1, raw, probe)
            case = '%-26s %s' % ('bad ' + label, 'probe+decode' if probe else 'decode only')
            message = result.stderr.strip()
            ok = result.returncode == 1 and message.startswith(path + ': ')
            print('%s %s: exit %d, "%s" (%s)' % ('ok  ' if ok else 'FAIL', case,
                  result.returncode, message.replace(path, '<file>'), pil))
            failures += not ok
    return failures


def main():
    global np, Image
    try:
        import numpy as np
        from PIL import Image
    except ImportError:
        print('SKIP: needs python3-pil and python3-numpy')
        return 77
    if not os.path.exists(FASHION):
        print('SKIP: no %s (apt-get install dataset-fashion-mnist)' % FASHION)
        return 77
    warnings.simplefilter('ignore')  # PIL on palette transparency as bytes
    tool = sys.argv[1]
    images = fashion(4)
    work = tempfile.mkdtemp(prefix='kiln-decode-')
    try:
        raw = os.path.join(work, 'out.raw')
        per_size = [make_files(work, images[2 * i], images[2 * i + 1], size)
                    for i, size in enumerate(SIZES)]
        failures = check_good(tool, sum(per_size, []), raw)
        failures += check_bad(tool, bad_files(work, per_size[0]), raw)
    finally:
        shutil.rmtree(work)
    print('%d failures' % failures if failures else 'all equal')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
