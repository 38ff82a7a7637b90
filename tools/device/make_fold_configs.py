import hashlib, json, yaml
from pathlib import Path
from benchmarks.crossval import fold_config, FOLDS, ROOT
base = yaml.safe_load((ROOT / "configs/alphagan_prior.yaml").read_text())
name = "prior-seed2-600"
overrides = ["model.generator.prior_clip=false", "seed=2"]
work = ROOT / "runs/crossval" / name
hashes = {}
for k in range(3):
    synth_dir = ROOT / "runs/crossval/synth" / f"fold{k}-100"
    config = fold_config(base, FOLDS[k], synth_dir=synth_dir, cache_dir=work / f"fold{k}" / "fg_cache",
                         steps=None, base_dir=ROOT)
    hashes[k] = hashlib.sha256(json.dumps([config, overrides], sort_keys=True).encode()).hexdigest()
    (ROOT / ".gpu/configs" / f"fold{k}.canonical.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    config["data"]["fg_cache_dir"] = "/work/main/runs/fgcache"  # one cache shared by all device runs
    (ROOT / ".gpu/configs" / f"fold{k}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
(ROOT / ".gpu/configs/hashes.json").write_text(json.dumps(hashes, indent=1))
print(hashes)
