"""Save and load generators as safetensors files that rebuild themselves.

The file's metadata holds the architecture config, the input preprocessing and the trimap
encoding, so ``load_model(path)`` needs nothing else; ``load_model()`` gives the model
shipped inside the package. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from alphagan.atomic import atomic_path
from alphagan.defaults import MODEL_NAME
from alphagan.errors import InputError
from alphagan.models.generator import AlphaGANGenerator, GeneratorConfig

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DEFAULT_WEIGHTS",
    "SHIPPED_MODELS",
    "default_checkpoint",
    "resolve_model",
    "save_model",
    "load_model",
    "read_metadata",
]

FORMAT = "alphagan.generator"
FORMAT_VERSION = "1"


def _tensors_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """Digest of names, dtypes, shapes and bytes, in name order (detects corrupted files)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(
    generator: AlphaGANGenerator,
    path: str | Path,
    *,
    extra_metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``generator``'s weights and config to ``path`` (safetensors, atomically).

    ``extra_metadata`` adds free-form string fields (training data, licence, step, ...).
    Returns the path written.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    config = generator.config
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
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
    for key, value in (extra_metadata or {}).items():
        if key in metadata:
            raise ValueError(f"metadata key {key!r} is reserved")
        metadata[key] = str(value)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of an alphagan model file; InputError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if not 0 < header_len < 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(fh.read(header_len))
    except (ValueError, OSError, UnicodeDecodeError):
        raise InputError(f"{path}: not a safetensors file") from None
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT:
        raise InputError(
            f"{path}: a safetensors file, but not an alphagan generator "
            f"(metadata 'format' is {metadata.get('format')!r}, expected {FORMAT!r})"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{path}: alphagan model format version {metadata.get('format_version')!r} is not "
            f"supported by this version of alphagan (expected {FORMAT_VERSION!r})"
        )
    return metadata


def load_model(
    name_or_path: str | Path | None = None,
    map_location: str | torch.device = "cpu",
    *,
    verify: bool = True,
) -> AlphaGANGenerator:
    """Load a generator, in eval mode on ``map_location``.

    ``name_or_path``: None or a shipped model's name (``"alphagan-light"``, see
    :data:`SHIPPED_MODELS`) for the model inside the package; otherwise a ``.safetensors``
    file written by :func:`save_model`. ``verify`` checks the stored digest. Raises
    ``InputError`` (a ``ValueError``) for an unknown name, or a file that is missing, not
    safetensors, not ours, or corrupted.
    """
    path = resolve_model(name_or_path)
    metadata = read_metadata(path)
    try:
        config = GeneratorConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: unreadable architecture config ({exc})") from None
    try:
        tensors = load_file(path, device="cpu")
    except (SafetensorError, OSError) as exc:
        raise InputError(f"{path}: cannot read tensors ({exc})") from None
    if verify and metadata.get("tensors_sha256") not in (None, _tensors_sha256(tensors)):
        raise InputError(f"{path}: weights do not match their stored checksum (corrupted file?)")
    generator = AlphaGANGenerator(config)
    result = generator.load_state_dict(tensors, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise InputError(
            f"{path}: weights do not fit the stored architecture (missing "
            f"{len(result.missing_keys)}, unexpected {len(result.unexpected_keys)})"
        )
    return generator.to(map_location).eval()


DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "alphagan_default.safetensors"


# Shipped model name -> its file inside the package (MODEL_CARD.md describes it).
SHIPPED_MODELS = {MODEL_NAME: DEFAULT_WEIGHTS}


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
