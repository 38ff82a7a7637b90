"""Save and load generators as safetensors files that rebuild themselves.

The file's metadata holds the architecture config, the input preprocessing and the trimap
encoding, so ``load_model(path)`` needs nothing else; ``load_model()`` gives the model
shipped inside the package. Writes are atomic. A file can also hold an ensemble of several
generators of one config (:class:`~alphagan.models.GeneratorEnsemble`, written by
:func:`save_ensemble`): format version 2, so that releases without ensembles refuse it by
its version instead of by its tensor names.

Loading never runs code from the file and allocates nothing a malformed file asks for:
safetensors holds only a JSON header and raw tensor bytes; the header is parsed and checked
here (every tensor's dtype, shape and byte range), the stored architecture is built on the
``meta`` device (no memory) and its parameter names and shapes must equal the file's before
the real network is built and the bytes are read through :mod:`alphagan.files`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from alphagan.atomic import atomic_path
from alphagan.defaults import MODEL_NAME
from alphagan.errors import InputError
from alphagan.files import MAX_MODEL_BYTES, open_regular, read_bytes
from alphagan.models.ensemble import MAX_MEMBERS, GeneratorEnsemble
from alphagan.models.generator import AlphaGANGenerator, GeneratorConfig

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DEFAULT_WEIGHTS",
    "SHIPPED_MODELS",
    "default_checkpoint",
    "resolve_model",
    "save_model",
    "save_ensemble",
    "load_model",
    "read_metadata",
    "free_metadata",
    "unwrap_model",
]

FORMAT = "alphagan.generator"
FORMAT_VERSION = "1"  # one generator
ENSEMBLE_FORMAT_VERSION = "2"  # a GeneratorEnsemble; metadata "members" holds its size
# Metadata keys save_model writes itself; extra_metadata may not use them.
RESERVED_METADATA = frozenset({"format", "format_version", "architecture", "config",
                               "preprocessing", "tensors_sha256", "members"})


def _tensors_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """Digest of names, dtypes, shapes and bytes, in name order (detects corrupted files)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(
    generator: AlphaGANGenerator | GeneratorEnsemble,
    path: str | Path,
    *,
    extra_metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``generator``'s weights and config to ``path`` (safetensors, atomically).

    ``extra_metadata`` adds free-form string fields (training data, licence, step, ...).
    A ``torch.compile``'d or ``DistributedDataParallel``-wrapped generator is saved as the
    generator it wraps; a :class:`~alphagan.models.GeneratorEnsemble` as an ensemble file
    (format version 2). Returns the path written.
    """
    path = Path(path)
    generator = unwrap_model(generator)
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    config = generator.config
    ensemble = isinstance(generator, GeneratorEnsemble)
    metadata = {
        "format": FORMAT,
        "format_version": ENSEMBLE_FORMAT_VERSION if ensemble else FORMAT_VERSION,
        "architecture": type(generator).__name__,
        "config": json.dumps(config.to_dict()),
        "preprocessing": json.dumps(
            {
                "image": "RGB float in [0,1], (B,3,H,W); the model normalises with mean/std",
                "mean": list(config.mean),
                "std": list(config.std),
                "trimap": {"background": 0.0, "unknown": 0.5, "foreground": 1.0},
                "size_divisor": generator.size_divisor,
            }
        ),
        "tensors_sha256": _tensors_sha256(tensors),
    }
    if ensemble:
        metadata["members"] = str(len(generator.members))
    for key, value in (extra_metadata or {}).items():
        if key in RESERVED_METADATA:
            raise ValueError(f"metadata key {key!r} is reserved")
        metadata[key] = str(value)
    with atomic_path(path) as tmp:
        # atomic_path creates tmp with the mode every output of the package gets (0o666 less
        # the umask); safetensors writes a file of its own (owner-only) over it: restore it.
        mode = os.stat(tmp).st_mode & 0o777
        save_file(tensors, str(tmp), metadata=metadata)
        os.chmod(tmp, mode)
    return path


def save_ensemble(
    models: Sequence[str | Path],
    path: str | Path,
    *,
    extra_metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write one model file holding the generators ``models`` (files or shipped model names,
    as :func:`load_model` takes) as an ensemble.

    The members keep their weights and their shared config (inference settings such as
    ``prior_clip`` included); the ensemble's alpha is the mean of theirs
    (:class:`~alphagan.models.GeneratorEnsemble`). Each member's own free-form metadata is kept
    as ``member<i>.<key>``. Raises ``InputError`` for a file :func:`load_model` refuses, an
    ensemble among them, fewer than two files, two with the same weights, or configs that
    differ.
    """
    generators = []
    extra: dict[str, str] = {}
    for i, source in enumerate(models):
        model = load_model(source)
        if isinstance(model, GeneratorEnsemble):
            raise InputError(f"{source}: already an ensemble; give its members' files instead")
        generators.append(model)
        extra.update({f"member{i}.{k}": v
                      for k, v in free_metadata(resolve_model(source)).items()})
    states = [g.state_dict() for g in generators]
    for i in range(len(states)):
        for j in range(i):
            if states[i].keys() == states[j].keys() and all(
                    torch.equal(states[i][k], states[j][k]) for k in states[i]):
                # the mean of a network and its copy is that network, at twice the cost
                raise InputError(f"{models[i]}: the same weights as {models[j]}; an ensemble "
                                 f"needs different networks")
    try:
        ensemble = GeneratorEnsemble.of(generators)
    except ValueError as exc:
        raise InputError(f"cannot make an ensemble of {', '.join(map(str, models))}: "
                         f"{exc}") from None
    return save_model(ensemble, path, extra_metadata={**extra, **(extra_metadata or {})})


def unwrap_model(model: torch.nn.Module) -> Any:
    """The module inside ``torch.compile`` (``_orig_mod``) and DDP (``module``) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None)
        if inner is None and isinstance(model, torch.nn.parallel.DistributedDataParallel):
            inner = model.module
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


# safetensors dtype names -> bytes per element
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                "I8": 1, "U8": 1, "BOOL": 1}
_MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit


def _read_header(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...]]]]:
    """(metadata, {name: (dtype, shape)}) of a safetensors file, every entry checked.

    Raises InputError (one line naming the file) for anything that is not a well-formed
    safetensors header whose byte ranges fit the file.
    """
    bad = f"{path}: not a safetensors file"
    with open_regular(path, MAX_MODEL_BYTES, what="model file") as (fh, size):
        head = fh.read(8)
        if len(head) < 8:
            raise InputError(f"{bad} (shorter than its 8-byte header length)")
        header_len = int.from_bytes(head, "little")
        if head[:4] == b"PK\x03\x04":  # a zip: what torch.save writes (training checkpoints)
            raise InputError(f"{bad} but a PyTorch checkpoint (torch.save); give the run's "
                             f"generator.safetensors, which alphagan train writes beside its "
                             f"checkpoints/ folder")
        if not 2 <= header_len <= min(_MAX_HEADER_BYTES, size - 8):
            raise InputError(f"{bad} (header length {header_len} does not fit the file)")
        raw = fh.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{bad} (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{bad} (its header is a JSON {type(header).__name__}, not an object)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise InputError(f"{bad} (its __metadata__ is not a mapping of strings)")
    data_bytes = size - 8 - header_len
    specs: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, entry in header.items():
        if not (isinstance(entry, dict) and entry.get("dtype") in _DTYPE_BYTES
                and _is_int_list(entry.get("shape")) and _is_int_list(entry.get("data_offsets"))
                and len(entry["data_offsets"]) == 2):
            raise InputError(f"{bad} (malformed entry for tensor {name[:80]!r})")
        begin, end = entry["data_offsets"]
        nbytes = math.prod(entry["shape"]) * _DTYPE_BYTES[entry["dtype"]]
        if not (0 <= begin <= end <= data_bytes and end - begin == nbytes):
            raise InputError(f"{path}: tensor {name[:80]!r} lies outside the file or has the "
                             f"wrong byte count (truncated or corrupted file?)")
        specs[name] = (entry["dtype"], tuple(entry["shape"]))
    return metadata, specs


def _is_int_list(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )


def free_metadata(path: str | Path) -> dict[str, str]:
    """The free-form metadata of a model file: what ``save_model``'s ``extra_metadata`` wrote
    (training data, step, licence, ...), without the keys it writes itself."""
    return {k: v for k, v in read_metadata(path).items() if k not in RESERVED_METADATA}


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of an alphagan model file; InputError if it is not one."""
    path = Path(path)
    metadata, _ = _read_header(path)
    _check_format(path, metadata)
    return metadata


def _check_format(path: Path, metadata: Mapping[str, str]) -> None:
    if metadata.get("format") != FORMAT:
        raise InputError(
            f"{path}: a safetensors file, but not an alphagan generator "
            f"(metadata 'format' is {metadata.get('format')!r}, expected {FORMAT!r})"
        )
    if metadata.get("format_version") not in (FORMAT_VERSION, ENSEMBLE_FORMAT_VERSION):
        raise InputError(
            f"{path}: alphagan model format version {metadata.get('format_version')!r} is not "
            f"supported by this version of alphagan (expected {FORMAT_VERSION!r} or "
            f"{ENSEMBLE_FORMAT_VERSION!r})"
        )


def _member_count(path: Path, metadata: Mapping[str, str]) -> int | None:
    """None for a single generator; the member count of an ensemble file (checked)."""
    if metadata.get("format_version") != ENSEMBLE_FORMAT_VERSION:
        return None
    text = metadata.get("members", "")
    if not (text.isascii() and text.isdigit() and 2 <= int(text) <= MAX_MEMBERS):
        raise InputError(f"{path}: an ensemble file whose 'members' metadata is {text[:20]!r}; "
                         f"expected a count from 2 to {MAX_MEMBERS}")
    return int(text)


def _build(config: GeneratorConfig, members: int | None) -> AlphaGANGenerator | GeneratorEnsemble:
    return AlphaGANGenerator(config) if members is None else GeneratorEnsemble(config, members)


# A stored config whose layer counts exceed these is refused before anything is built
# (building even on the meta device takes time per layer).
_MAX_BLOCKS = 64


def _stored_config(path: Path, metadata: Mapping[str, str]) -> GeneratorConfig:
    try:
        config = GeneratorConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: unreadable architecture config ({exc})") from None
    counts = [*config.encoder_layers, len(config.aspp_rates), config.final_convs]
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= _MAX_BLOCKS
               for n in counts):
        raise InputError(f"{path}: architecture config has implausible layer counts "
                         f"(each at most {_MAX_BLOCKS})")
    return config


def _build_checked(path: Path, config: GeneratorConfig,
                   specs: Mapping[str, tuple[str, tuple[int, ...]]],
                   members: int | None = None) -> None:
    """Build ``config`` (an ensemble of ``members`` if given) on the meta device and require
    the file's names and shapes."""
    try:
        with torch.device("meta"):
            skeleton = _build(config, members)
    except Exception as exc:  # noqa: BLE001 - any config the constructor refuses
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"{path}: unusable architecture config "
                         f"({type(exc).__name__}: {text})") from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    missing = sorted(set(expected) - set(specs))
    unexpected = sorted(set(specs) - set(expected))
    wrong = sorted(k for k in set(expected) & set(specs) if expected[k] != specs[k][1])
    if missing or unexpected or wrong:
        example = (missing or unexpected or wrong)[0][:80]
        raise InputError(
            f"{path}: weights do not fit the stored architecture (missing {len(missing)}, "
            f"unexpected {len(unexpected)}, wrong shape {len(wrong)}; e.g. {example!r})"
        )


def load_model(
    name_or_path: str | Path | None = None,
    map_location: str | torch.device = "cpu",
    *,
    verify: bool = True,
) -> AlphaGANGenerator | GeneratorEnsemble:
    """Load a generator (or an ensemble of them), in eval mode on ``map_location``.

    ``name_or_path``: None (the default, ``"alphagan-prior"``) or a shipped model's name
    (see :data:`SHIPPED_MODELS`) for a model inside the package; otherwise a ``.safetensors``
    file written by :func:`save_model` or :func:`save_ensemble` (which gives a
    :class:`~alphagan.models.GeneratorEnsemble`). ``verify`` checks the stored digest. Raises
    ``InputError`` (a ``ValueError``) for an unknown name, or a file that is missing, not a
    regular file, not safetensors, not ours, malformed (header, tensor names, shapes or byte
    ranges) or corrupted; nothing is allocated for the network until its stored
    architecture matches the stored tensors.
    """
    path = resolve_model(name_or_path)
    metadata, specs = _read_header(path)
    _check_format(path, metadata)
    config = _stored_config(path, metadata)
    members = _member_count(path, metadata)
    _build_checked(path, config, specs, members)
    try:
        tensors = load_safetensors(read_bytes(path, MAX_MODEL_BYTES, what="model file"))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: cannot read tensors ({' '.join(str(exc).split())})") from None
    if verify and metadata.get("tensors_sha256") not in (None, _tensors_sha256(tensors)):
        raise InputError(f"{path}: weights do not match their stored checksum (corrupted file?)")
    generator = _build(config, members)
    try:
        generator.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # a dtype the parameters cannot take
        first = " ".join(str(exc).split())[:200]
        raise InputError(f"{path}: weights do not fit the stored architecture ({first})") from None
    return generator.to(map_location).eval()


_WEIGHTS = Path(__file__).resolve().parent / "weights"

# Shipped model name -> its file inside the package (MODEL_CARD.md describes them).
# alphagan-prior: the light generator with closed-form and KNN priors (the default; better
# than classical matting on unseen scenes, and slower: it runs both solvers).
# alphagan-light: the same generator without priors (fast, far less accurate).
SHIPPED_MODELS = {
    "alphagan-prior": _WEIGHTS / "alphagan_prior.safetensors",
    "alphagan-light": _WEIGHTS / "alphagan_light.safetensors",
}
DEFAULT_WEIGHTS = SHIPPED_MODELS[MODEL_NAME]


def default_checkpoint() -> Path | None:
    """The generator shipped inside the package, or None if this build has none."""
    return DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else None


def resolve_model(name_or_path: str | Path | None) -> Path:
    """None or a shipped model's name -> its file; anything else is taken as a path.

    Raises ``InputError`` when the shipped model is asked for but this build has none.
    """
    if name_or_path is None:
        name_or_path = MODEL_NAME
    if isinstance(name_or_path, str) and name_or_path in SHIPPED_MODELS:
        path = SHIPPED_MODELS[name_or_path]
        if not path.is_file():
            raise InputError(f"{name_or_path}: this build ships no weights ({path} is missing)")
        return path
    path = Path(name_or_path)
    if not path.exists() and path.suffix != ".safetensors" and isinstance(name_or_path, str):
        raise InputError(
            f"{name_or_path}: neither a shipped model ({', '.join(SHIPPED_MODELS)}) nor a "
            ".safetensors file"
        )
    return path
