"""Fill one foreground cache for the 18 alphamatting scenes, in parallel (device warm-up)."""
import sys
import time
from multiprocessing import Pool
from pathlib import Path

from alphagan.data.foreground_cache import cached_foreground
from alphagan.training.config import load_config
from alphagan.training.data import train_items

cache = Path(sys.argv[1])
config = load_config(Path("configs/alphagan_prior.yaml"))
items = [i for src in config.data.train if src.layout == "alphamatting" for i in train_items(src)]


def one(item):
    return str(cached_foreground(item.image, item.alpha, cache))


if __name__ == "__main__":
    t = time.time()
    with Pool(16) as pool:
        done = pool.map(one, items)
    print(f"foreground cache: {len(done)} scenes in {time.time() - t:.0f} s")
