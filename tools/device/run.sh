#!/bin/bash
# Device job: train the alphagan-prior recipe for crossval seed 2 (folds 0-2) and on all 18 scenes
# with seeds 1 and 2; results come back as split tar chunks in $OUT.
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
REPO=$(pwd -P)
DEADLINE=${DEADLINE:-500}
echo "repo $REPO; $(nproc) cores; $(python3 -c 'import torch;print(torch.__version__, torch.cuda.is_available())')"
mkdir -p /work/shared
python3 tools/device/unpack.py .gpu/data /work/shared/data || exit 3
if [ "$REPO" != /work/main ]; then
  mkdir -p /work/main && tar -C "$REPO" --exclude=./.gpu/data -cf - . | tar -C /work/main -xf - || exit 3
fi
cd /work/main
export PYTHONPATH=/work/main/.gpu/site:/work/main/src OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONUNBUFFERED=1
python3 - <<'PY' || exit 4
import numpy as np, torch
from alphagan.prior import compute_prior
img = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
tri = np.full((40, 40), 0.5, np.float32); tri[:10] = 0; tri[-10:] = 1
p = compute_prior(img, tri, "cf+knn")
print("smoke prior", p.shape, float(p.mean()), "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PY
echo "[$(el)s] setup done"
mkdir -p /tmp/devlogs
python3 tools/device/fgcache.py /work/main/runs/fgcache > /tmp/devlogs/fgcache.log 2>&1 &
FOLDS=("GT01,GT04,GT05,GT10,GT14,GT25" "GT02,GT07,GT08,GT12,GT17,GT21" "GT09,GT15,GT18,GT20,GT22,GT27")
for k in 0 1 2; do
  python3 -m alphagan synth --out runs/crossval/synth/fold$k-100 --count 100 --seed 0 \
    --alpha-shapes /work/shared/data/alphamatting_highres/gt --exclude ${FOLDS[$k]} > /tmp/devlogs/synth$k.log 2>&1 &
done
python3 -m alphagan synth --out runs/prior/synth --count 100 --seed 0 \
  --alpha-shapes ../shared/data/alphamatting_highres/gt > /tmp/devlogs/synth_all.log 2>&1 &
wait
tail -n 2 /tmp/devlogs/fgcache.log; for f in /tmp/devlogs/synth*.log; do tail -c 120 $f; echo; done
echo "[$(el)s] synth + foreground cache done"
W=${WORKERS:-4}
for k in 0 1 2; do
  python3 -m alphagan train --config .gpu/configs/fold$k.yaml --out runs/crossval/prior-seed2-600/fold$k/run \
    --set model.generator.prior_clip=false --set seed=2 --set data.workers=$W > /tmp/devlogs/fold$k.log 2>&1 &
done
for s in 1 2; do
  nice -n $((5 * s)) python3 -m alphagan train --config configs/alphagan_prior.yaml --out runs/prior/run-seed$s \
    --set seed=$s --set data.workers=$W --set data.fg_cache_dir=/work/main/runs/fgcache > /tmp/devlogs/all$s.log 2>&1 &
done
while [ -n "$(jobs -rp)" ] && [ "$(el)" -lt "$DEADLINE" ]; do sleep 5; done
echo "[$(el)s] trainings: $(jobs -rp | wc -l) still running"
for p in $(jobs -rp); do kill -INT $p; done; sleep 3; for p in $(jobs -rp); do kill -9 $p; done
mkdir -p /tmp/pack
for r in runs/crossval/prior-seed2-600/fold0/run runs/crossval/prior-seed2-600/fold1/run runs/crossval/prior-seed2-600/fold2/run runs/prior/run-seed1 runs/prior/run-seed2; do
  echo "$r: $(tail -n 1 $r/metrics.jsonl 2>/dev/null | cut -c1-60) generator: $(ls $r/generator.safetensors 2>/dev/null)"
done
# the finished generators + configs + metrics; the latest checkpoint of an unfinished run while room is left
LIST=$(ls runs/crossval/prior-seed2-600/fold*/run/{generator.safetensors,config.yaml,metrics.jsonl} runs/prior/run-seed*/{generator.safetensors,config.yaml,metrics.jsonl} 2>/dev/null)
SIZE=$(du -cb $LIST | tail -1 | cut -f1)
for r in runs/crossval/prior-seed2-600/fold0/run runs/crossval/prior-seed2-600/fold1/run runs/crossval/prior-seed2-600/fold2/run runs/prior/run-seed1 runs/prior/run-seed2; do
  # an unfinished run also has a generator.safetensors: "finished" is its last step logged
  if ! grep -q "\"step\": ${STEPS:-600}," $r/metrics.jsonl 2>/dev/null && [ -f $r/checkpoints/latest.pt ]; then
    s=$(stat -c %s $r/checkpoints/latest.pt)
    if [ $((SIZE + s)) -lt 62000000 ]; then LIST="$LIST $r/checkpoints/latest.pt"; SIZE=$((SIZE + s)); fi
  fi
done
tar -cf - $LIST /tmp/devlogs | split -b 15000000 - $OUT/res.tar.
ls -la $OUT; echo "[$(el)s] packed"
for f in /tmp/devlogs/fold0.log /tmp/devlogs/all2.log; do echo "== $f"; tail -c 600 $f; done
