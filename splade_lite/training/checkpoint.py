"""Training checkpoints as one safetensors file, which nothing can run code from when read.

``checkpoint.safetensors`` holds every tensor of the training state by name (``model/…``:
the weights; ``optimizer/ID/…``: AdamW's moments and step count of each parameter;
``rng/…``: the random generators' states; ``query_log_weight``: learned query weights) and, in
its header, one JSON document with the rest (step, losses, options, the optimiser's parameter
groups, the scheduler's state). A pickle (``torch.save``) can run any code while it is read,
so none is ever loaded: earlier versions' ``checkpoint.pt`` is refused.

Everything read back is checked against the freshly built trainer (names, shapes and dtypes of
tensors, keys and kinds of JSON values) before any of it is used, so that a damaged or crafted
file gives one line naming it instead of an error from deep inside torch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from splade_lite.errors import BadValueError, SpladeLiteError

if TYPE_CHECKING:
    from splade_lite.training.trainer import Trainer

FORMAT = "splade-lite/training-checkpoint"
FORMAT_VERSION = 1
_HEADER_KEY = "splade_lite"
_START_AGAIN = "pass --overwrite to start the run again"
_OPTIMIZER_TENSORS = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")


class CheckpointError(SpladeLiteError, ValueError):
    """A checkpoint that cannot be resumed from: unreadable, not ours, or of another run."""


def legacy_error(path: Path) -> CheckpointError:
    """The error for an old pickled ``checkpoint.pt``, which is never loaded."""
    return CheckpointError(
        f"{path}: a checkpoint in the old pickle format, which splade-lite no longer reads "
        f"(loading a pickle can run code); {_START_AGAIN}"
    )


# -- writing ------------------------------------------------------------------------------------
def save_state(path: str | Path, trainer: Trainer) -> None:
    """Write the trainer's whole state to `path`, atomically (temp file, fsync, rename)."""
    tensors: dict[str, torch.Tensor] = {
        f"model/{name}": value for name, value in trainer.model.state_dict().items()
    }
    optimizer = trainer.optimizer.state_dict()
    per_param: dict[str, dict] = {}
    for pid, entries in optimizer["state"].items():
        names, values = [], {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{pid}/{key}"] = value
                names.append(key)
            else:
                values[key] = value
        per_param[str(pid)] = {"tensors": sorted(names), "values": values}
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    if trainer.query_log_weight is not None:
        tensors["query_log_weight"] = trainer.query_log_weight
    stored, aliases = _unshared(tensors)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "step": trainer.step,
        "losses": list(trainer.losses),
        "config": asdict(trainer.config),
        "optimizer": {"param_groups": optimizer["param_groups"], "state": per_param},
        "scheduler": trainer.scheduler.state_dict(),
        "aliases": aliases,
    }
    _write(Path(path), stored, json.dumps(header, allow_nan=False))


def _unshared(tensors: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors as safetensors stores them (contiguous, on the CPU, no two sharing memory),
    and the names that are the very same data as a stored one (tied weights) -> that name."""
    stored: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    first: dict[tuple, tuple[str, tuple]] = {}
    for name, tensor in tensors.items():
        tensor = tensor.detach()
        if tensor.numel() == 0:
            stored[name] = tensor.cpu().clone()
            continue
        storage = (str(tensor.device), tensor.untyped_storage().data_ptr())
        view = (tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if storage not in first:
            first[storage] = (name, view)
            stored[name] = tensor.cpu().contiguous()
        elif first[storage][1] == view:
            aliases[name] = first[storage][0]
        else:  # another view of shared memory: a copy of its own
            stored[name] = tensor.cpu().contiguous().clone()
    return stored, aliases


def _write(path: Path, tensors: dict[str, torch.Tensor], header: str) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        save_file(tensors, str(tmp), metadata={_HEADER_KEY: header})
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries, where the OS allows it) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


# -- reading ------------------------------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
    raise BadValueError(f"{name} is not a finite number")


def _need(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise CheckpointError(f"{path}: {what}; the file is damaged or not splade-lite's; "
                              f"{_START_AGAIN}")  # fmt: skip


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_header(path: Path, metadata: Mapping[str, str] | None) -> dict:
    """The JSON header of a checkpoint, its top-level types checked."""
    raw = (metadata or {}).get(_HEADER_KEY)
    _need(isinstance(raw, str), path, "not a training checkpoint of splade-lite (no header)")
    try:
        header = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:
        raise CheckpointError(f"{path}: its header is not valid JSON ({err})") from None
    _need(isinstance(header, dict), path, "its header is not a JSON object")
    _need(header.get("format") == FORMAT, path, f"its format is not {FORMAT!r}")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {header.get('format_version')!r}, this "
            f"splade-lite reads version {FORMAT_VERSION}; {_START_AGAIN}"
        )
    step = header.get("step")
    _need(type(step) is int and step >= 0, path, "its step is not a count")
    losses = header.get("losses")
    _need(
        isinstance(losses, list) and len(losses) == step and all(map(_is_number, losses)),
        path,
        "its losses are not one finite number per step",
    )
    _need(isinstance(header.get("config"), dict), path, "it has no options")
    optimizer = header.get("optimizer")
    _need(
        isinstance(optimizer, dict)
        and isinstance(optimizer.get("param_groups"), list)
        and isinstance(optimizer.get("state"), dict),
        path,
        "it has no optimizer state",
    )
    _need(isinstance(header.get("scheduler"), dict), path, "it has no scheduler state")
    aliases = header.get("aliases")
    _need(
        isinstance(aliases, dict) and all(isinstance(v, str) for v in aliases.values()),
        path,
        "its list of tied tensors is not a JSON object of names",
    )
    return header


def read_header(path: str | Path) -> dict:
    """The checked header of a checkpoint, without reading its tensors (a quick early check)."""
    path = Path(path)
    with _opened(path) as handle:
        return _parse_header(path, handle.metadata())


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """All tensors (by name) and the checked header of a checkpoint."""
    path = Path(path)
    with _opened(path) as handle:
        header = _parse_header(path, handle.metadata())
        try:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except Exception as err:  # safetensors' own error type, or a dtype torch lacks
            raise CheckpointError(f"{path}: cannot read its tensors ({_first_line(err)})") from None
    return tensors, header


def _short(value: object, limit: int = 60) -> str:
    """A value as it may appear in a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """safe_open, with its errors (not a safetensors file, truncated, unreadable) as one line."""
    from safetensors import safe_open

    try:
        opened = safe_open(str(path), framework="pt", device="cpu")
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read it ({err.strerror or err})") from None
    except Exception as err:  # safetensors raises its own SafetensorError
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({_first_line(err)}); the file is damaged or "
            f"was not written by splade-lite; {_START_AGAIN}"
        ) from None
    with opened as handle:
        yield handle


# -- checking against the trainer and loading ---------------------------------------------------
def _like(path: Path, what: str, saved: Any, template: Any) -> Any:
    """`saved` (read from JSON) if it has the keys and the kinds of values of `template` (the
    same state of a fresh trainer), with tuples made tuples again."""
    if isinstance(template, dict):
        _need(isinstance(saved, dict) and set(saved) == set(template), path, f"{what}: other keys")
        return {k: _like(path, f"{what}.{k}", saved[k], v) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        _need(isinstance(saved, list) and len(saved) == len(template), path, f"{what}: other size")
        items = [_like(path, f"{what}[{i}]", s, t) for i, (s, t) in enumerate(zip(saved, template))]
        return tuple(items) if isinstance(template, tuple) else items
    if template is None or isinstance(template, (bool, str)):
        ok = saved is None if template is None else type(saved) is type(template)
        _need(ok, path, f"{what} is {_short(saved)}")
        return saved
    if isinstance(template, int):
        _need(type(saved) is int, path, f"{what} is not an integer")
        return saved
    if isinstance(template, float):
        _need(_is_number(saved), path, f"{what} is not a finite number")
        return float(saved)
    raise TypeError(f"cannot check a saved {type(template).__name__} ({what})")


def _tensors_like(
    path: Path, what: str, found: Mapping[str, torch.Tensor], wanted: Mapping[str, torch.Tensor]
) -> None:
    """`found` has exactly the names of `wanted`, each with its shape and dtype."""
    odd = sorted(set(found) ^ set(wanted))
    more = f" and {len(odd) - 1} more" if len(odd) > 1 else ""
    _need(not odd, path, f"{what} do not match this model ({odd[0] if odd else ''}{more})")
    for name, tensor in wanted.items():
        got = found[name]
        _need(
            got.shape == tensor.shape and got.dtype == tensor.dtype,
            path,
            f"{what}: {name} is {got.dtype} {list(got.shape)}, not {tensor.dtype} "
            f"{list(tensor.shape)}",
        )


def _optimizer_state(
    path: Path, tensors: dict[str, torch.Tensor], saved: dict, optimizer: torch.optim.Optimizer
) -> dict:
    """AdamW's state_dict rebuilt from the file, checked against the optimiser's parameters."""
    template = optimizer.state_dict()
    groups = _like(path, "optimizer groups", saved["param_groups"], template["param_groups"])
    _need(
        [g["params"] for g in groups] == [g["params"] for g in template["param_groups"]],
        path,
        "its optimizer groups list other parameters",
    )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict] = {}
    for pid, entry in saved["state"].items():
        _need(pid.isdigit() and int(pid) < len(params), path, f"optimizer state {pid!r}")
        _need(
            isinstance(entry, dict)
            and isinstance(entry.get("tensors"), list)
            and set(entry["tensors"]) <= set(_OPTIMIZER_TENSORS)
            and isinstance(entry.get("values"), dict)
            and all(map(_is_number, entry["values"].values())),
            path,
            f"optimizer state {pid}",
        )
        param = params[int(pid)]
        values: dict[str, Any] = dict(entry["values"])
        for key in entry["tensors"]:
            tensor = tensors.pop(f"optimizer/{pid}/{key}", None)
            shape = torch.Size([]) if key == "step" else param.shape
            _need(
                tensor is not None and tensor.shape == shape and tensor.is_floating_point(),
                path,
                f"optimizer/{pid}/{key} is missing or not of its parameter's shape",
            )
            values[key] = tensor
        state[int(pid)] = values
    return {"state": state, "param_groups": groups}


def load_state(path: str | Path, trainer: Trainer) -> None:
    """Put the state saved at `path` into `trainer` (built with the same options), all of it
    checked before any of it is used."""
    path = Path(path)
    tensors, header = read_checkpoint(path)
    if header["config"] != asdict(trainer.config):
        raise CheckpointError(f"{path} was written by a run with other options; {_START_AGAIN}")
    _need(header["step"] <= trainer.config.max_steps, path, "its step is past the last one")
    for alias, target in header["aliases"].items():
        _need(target in tensors and alias not in tensors, path, f"tied tensor {alias!r}")
        tensors[alias] = tensors[target]
    prefix = "model/"
    weights = {k[len(prefix) :]: tensors.pop(k) for k in list(tensors) if k.startswith(prefix)}
    _tensors_like(path, "the weights", weights, trainer.model.state_dict())
    optimizer = _optimizer_state(path, tensors, header["optimizer"], trainer.optimizer)
    scheduler = _like(path, "scheduler", header["scheduler"], trainer.scheduler.state_dict())
    rng = tensors.pop("rng/torch", None)
    fresh_rng = torch.get_rng_state()
    _need(
        rng is not None and rng.dtype == torch.uint8 and rng.shape == fresh_rng.shape,
        path,
        "its random state is missing or malformed",
    )
    count = sum(name.startswith("rng/cuda/") for name in tensors)
    cuda = [tensors.pop(f"rng/cuda/{i}", None) for i in range(count)]
    _need(
        all(s is not None and s.dtype == torch.uint8 and s.dim() == 1 for s in cuda),
        path,
        "its CUDA random state is malformed",
    )
    query = tensors.pop("query_log_weight", None)
    if trainer.query_log_weight is not None:
        _need(
            query is not None and query.shape == trainer.query_log_weight.shape,
            path,
            "its learned query weights are missing or of another vocabulary",
        )
    _need(not tensors, path, f"unexpected entries ({sorted(tensors)[:3]})")

    trainer.model.load_state_dict(weights)
    trainer.optimizer.load_state_dict(optimizer)
    trainer.scheduler.load_state_dict(scheduler)
    torch.set_rng_state(rng)
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if trainer.query_log_weight is not None and query is not None:
        with torch.no_grad():
            trainer.query_log_weight.copy_(query.to(trainer.query_log_weight.dtype))
    trainer.step = header["step"]
    trainer.losses = [float(v) for v in header["losses"]]
