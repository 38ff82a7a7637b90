"""Copy the data the device run needs into .gpu/data, PNGs as lossless WebP when smaller
(a carried tree is limited to 64 MiB); tools/device/unpack.py restores identical pixels."""
import cv2, numpy as np, shutil, os
from pathlib import Path
src = Path('/work/shared/data'); dst = Path('/work/main/.gpu/data')
dirs = ['alphamatting/gt_training_lowres', 'alphamatting/input_training_lowres',
        'alphamatting/trimap_training_lowres', 'alphamatting_highres/gt', 'backgrounds',
        'backgrounds_more', 'alphamatting_test_lowres/input_lowres']
for d in dirs:
    for f in sorted((src / d).rglob('*')):
        if f.is_dir(): continue
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix.lower() == '.png':
            im = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            ok, buf = cv2.imencode('.webp', im, [cv2.IMWRITE_WEBP_QUALITY, 101])
            back = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            if back.ndim == 3 and im.ndim == 2:
                back = back[..., 0]
            if ok and back.shape == im.shape and np.array_equal(back, im) and len(buf) < f.stat().st_size:
                (out.parent / (f.name + ('.grey' if im.ndim == 2 else '') + '.webp')).write_bytes(buf.tobytes())
                continue
        shutil.copy2(f, out)
