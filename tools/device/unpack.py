"""Decode the carried data (.png.webp / .png.grey.webp are lossless copies of PNGs) into DST."""
import shutil
import sys
from pathlib import Path

import cv2

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
n = 0
for f in sorted(src.rglob('*')):
    if f.is_dir():
        continue
    rel = f.relative_to(src)
    out = dst / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    if f.name.endswith('.webp'):
        grey = f.name.endswith('.grey.webp')
        name = f.name[:-len('.grey.webp')] if grey else f.name[:-len('.webp')]
        im = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if grey:
            im = im[..., 0]
        assert cv2.imwrite(str(out.parent / name), im), out
    else:
        shutil.copy2(f, out)
    n += 1
print(f"unpacked {n} files into {dst}")
