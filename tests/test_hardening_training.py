"""Hardening of `train` / `adapt`: no file they read can run code, one writer per output
folder, nothing of the user's is ever deleted, and a crafted or damaged run file gives one
line naming it."""

from __future__ import annotations

import builtins
import copy
import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training_helpers import DOCS, QUERIES, make_beir, make_tiny_model  # noqa: E402

from splade_lite.resume import lock_folder  # noqa: E402
from splade_lite.training.checkpoint import CheckpointError  # noqa: E402
from splade_lite.training.data import TrainExample  # noqa: E402
from splade_lite.training.recipes import adapt_corpus, train_supervised  # noqa: E402
from splade_lite.training.trainer import TrainConfig, Trainer  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening-training")
    return make_tiny_model(root / "model"), make_beir(root / "beir")


def _config(model, **changes) -> TrainConfig:
    base = TrainConfig(
        base=str(model), max_steps=4, batch_size=4, negatives=2, lr=3e-3, warmup_steps=2,
        max_length=32, query_max_length=16, flops_doc=1e-3, flops_query=1e-3, flops_warmup=2,
        checkpoint_every=2, seed=7,
    )  # fmt: skip
    return replace(base, **changes)


def _examples() -> tuple[list[TrainExample], dict[str, str]]:
    ids = list(DOCS)
    examples = []
    for n, (query, positive) in enumerate(QUERIES.values()):
        negatives = [d for d in (ids[(n + 3) % 12], ids[(n + 7) % 12]) if d != positive]
        examples.append(TrainExample(query, [positive, *negatives][:3], None, f"q{n}"))
    return examples, {d: f"{title} {body}" for d, (title, body) in DOCS.items()}


class _Stop(Exception):
    pass


def _stop_at(stop: int):
    def on_step(step: int, loss: float) -> None:
        if step == stop:
            raise _Stop

    return on_step


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


class _Payload:
    """Unpickling this creates `marker`: what a crafted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# -- 1. a pickled checkpoint is never loaded -------------------------------------------------
@pytest.mark.slow
def test_pickled_checkpoint_is_refused_and_never_runs(tiny, tmp_path):
    from click.testing import CliRunner

    from splade_lite.cli import main

    model, beir = tiny
    config = _config(model)
    out = tmp_path / "out"
    with pytest.raises(_Stop):
        train_supervised(beir, out, config, progress=False, on_step=_stop_at(2))
    run = out / "training"
    assert (run / "checkpoint.safetensors").is_file()
    assert not (run / "checkpoint.pt").exists()

    marker = tmp_path / "pwned"
    payload = pickle.dumps({"step": 2, "model": _Payload(marker)})
    pickle.loads(payload)  # the payload is live: unpickling it does create the marker
    assert marker.exists()
    marker.unlink()

    (run / "checkpoint.pt").write_bytes(payload)  # an old-format (or crafted) checkpoint
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt.*pickle.*--overwrite"):
        train_supervised(beir, out, config, progress=False, resume=True)
    assert not marker.exists()

    (run / "checkpoint.pt").unlink()
    (run / "checkpoint.safetensors").write_bytes(payload)  # a pickle under the new name
    with pytest.raises(CheckpointError, match=r"checkpoint\.safetensors: not a readable"):
        train_supervised(beir, out, config, progress=False, resume=True)
    assert not marker.exists()

    args = ["train", str(beir), "--out", str(out), "--resume", "--base", str(model),
            "--max-steps", "4", "--batch-size", "4", "--negatives", "2", "--lr", "3e-3",
            "--warmup-steps", "2", "--max-length", "32", "--query-max-length", "16",
            "--flops-warmup", "2", "--checkpoint-every", "2", "--seed", "7", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, args, input="")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert (
        "checkpoint.safetensors" in result.output and len(result.output.strip().splitlines()) == 1
    )
    assert not marker.exists()


# -- 2. the safetensors checkpoint resumes exactly --------------------------------------------
@pytest.mark.slow
def test_checkpoint_round_trip_resumes_exactly(tiny, tmp_path):
    from safetensors import safe_open

    model, _ = tiny
    examples, texts = _examples()
    config = _config(model, max_steps=6)
    first = Trainer(config, examples, texts)
    first.train_step()
    first.train_step()
    path = tmp_path / "checkpoint.safetensors"
    first.save_checkpoint(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    with safe_open(str(path), framework="pt") as handle:  # a safetensors file, JSON header
        header = json.loads(handle.metadata()["splade_lite"])
    assert header["step"] == 2 and header["format"] == "splade-lite/training-checkpoint"
    saved_optimizer = copy.deepcopy(first.optimizer.state_dict())  # live tensors otherwise
    saved_scheduler = copy.deepcopy(first.scheduler.state_dict())
    straight = [first.train_step() for _ in range(2)]  # dropout draws from the random state

    second = Trainer(config, examples, texts)  # seeded afresh: its random state differs
    second.load_checkpoint(path)
    assert second.step == 2 and second.losses == first.losses[:2]
    assert second.scheduler.state_dict() == saved_scheduler
    loaded = second.optimizer.state_dict()
    assert loaded["param_groups"] == saved_optimizer["param_groups"]
    assert loaded["state"].keys() == saved_optimizer["state"].keys()
    for pid, entries in saved_optimizer["state"].items():
        for key, value in entries.items():
            assert torch.equal(value, loaded["state"][pid][key]), (pid, key)
    resumed = [second.train_step() for _ in range(2)]
    assert resumed == straight
    for (name, x), (_, y) in zip(
        first.model.state_dict().items(), second.model.state_dict().items()
    ):
        assert torch.equal(x, y), name
    # a trainer that did not load the checkpoint ends elsewhere: the comparisons can fail
    other = Trainer(config, examples, texts)
    assert [other.train_step() for _ in range(2)] != resumed


# -- 3. a damaged or crafted checkpoint gives one clear line -----------------------------------
def _rewrite(path: Path, header=None, tensors=None, raw_header: str | None = None) -> None:
    """Write `path` again with its header and tensors changed by the given functions."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["splade_lite"])
        found = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    if header is not None:
        header(meta)
    if tensors is not None:
        tensors(found)
    text = raw_header if raw_header is not None else json.dumps(meta)
    save_file(found, str(path), metadata={"splade_lite": text})


def test_damaged_or_crafted_checkpoint_is_refused_clearly(tiny, tmp_path):
    model, _ = tiny
    examples, texts = _examples()
    config = _config(model)
    trainer = Trainer(config, examples, texts)
    trainer.train_step()
    good = tmp_path / "good.safetensors"
    trainer.save_checkpoint(good)
    data = good.read_bytes()

    def case(name: str, **change) -> Path:
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(data)
        if change:
            _rewrite(path, **change)
        return path

    truncated = case("truncated")
    truncated.write_bytes(data[: len(data) // 2])

    def bigger(t):
        t[next(k for k in t if k.endswith("query.weight"))] = torch.zeros(3)

    def inject(h):
        h["scheduler"]["lr_lambdas"] = [{"__class__": "os.system"}]

    def extra_scheduler_key(h):
        h["scheduler"]["base_lrs_evil"] = 1

    def bad_losses(h):
        h["losses"] = ["x"]

    def future(h):
        h["format_version"] = 99

    def other_options(h):
        h["config"]["lr"] = 0.5

    def optimizer_shape(t):
        key = next(k for k in t if k.endswith("/exp_avg"))
        t[key] = torch.zeros(2)

    def odd_rng(t):
        t["rng/torch"] = torch.zeros(7, dtype=torch.uint8)

    def unexpected(t):
        t["surprise"] = torch.zeros(1)

    cases = {
        truncated: r"truncated\.safetensors: not a readable checkpoint",
        case("not-json", raw_header="{not json"): r"not-json\.safetensors: its header is not valid",
        case("shape", tensors=bigger): r"shape\.safetensors: the weights: \S*query\.weight",
        case("inject", header=inject): r"inject\.safetensors: scheduler\.lr_lambdas",
        case("key", header=extra_scheduler_key): r"key\.safetensors: scheduler: other keys",
        case("losses", header=bad_losses): r"losses\.safetensors: its losses",
        case("future", header=future): r"future\.safetensors: checkpoint format version 99",
        case("options", header=other_options): r"options\.safetensors was written by a run",
        case("moments", tensors=optimizer_shape): r"moments\.safetensors: optimizer/\d+/exp_avg",
        case("rng", tensors=odd_rng): r"rng\.safetensors: its random state",
        case("unexpected", tensors=unexpected): r"unexpected\.safetensors: unexpected entries",
    }
    trainer.train_step()  # now the trainer is one step past the checkpoint
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for path, message in cases.items():
        with pytest.raises(CheckpointError, match=message) as caught:
            trainer.load_checkpoint(path)
        assert "\n" not in str(caught.value)
    # nothing of a refused checkpoint was loaded
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert trainer.step == 2
    trainer.load_checkpoint(case("copy"))  # an unchanged copy loads: case() keeps it intact
    assert trainer.step == 1
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


# -- 4. no custom code from a model folder, and no prompt ---------------------------------------
def _evil_model(folder: Path, marker: Path) -> Path:
    model = make_tiny_model(folder)
    code = f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
    (model / "evil.py").write_text(code + "class EvilConfig: pass\nclass EvilModel: pass\n")
    (model / "evil_tok.py").write_text(code + "class EvilTokenizer: pass\n")
    config = json.loads((model / "config.json").read_text())
    config["model_type"] = "evil-bert"  # nothing transformers knows: only the custom code
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForMaskedLM": "evil.EvilModel"}
    (model / "config.json").write_text(json.dumps(config))
    tok = json.loads((model / "tokenizer_config.json").read_text())
    tok["tokenizer_class"] = "EvilTokenizer"
    tok["auto_map"] = {"AutoTokenizer": ["evil_tok.EvilTokenizer", None]}
    (model / "tokenizer_config.json").write_text(json.dumps(tok))
    return model


def test_model_custom_code_never_runs_nor_prompts(tiny, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from splade_lite.cli import main
    from splade_lite.training.model import load_trainable

    _, beir = tiny
    marker = tmp_path / "pwned"
    evil = _evil_model(tmp_path / "evil", marker)
    asked = []

    def answer(prompt: str = "") -> str:
        asked.append(prompt)
        return "y"  # what a user pressing y at transformers' prompt would do

    monkeypatch.setattr(builtins, "input", answer)
    monkeypatch.delenv("SPLADE_LITE_TRUST_REMOTE_CODE", raising=False)
    with pytest.raises(OSError, match="custom Python code") as caught:
        load_trainable(evil)
    assert "\n" not in str(caught.value)
    assert not marker.exists() and asked == []

    args = ["train", str(beir), "--out", str(tmp_path / "out"), "--base", str(evil),
            "--max-steps", "1", "--batch-size", "4", "--negatives", "1", "--max-length", "32",
            "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, args, input="")  # stdin closed: a prompt would fail
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: cannot load the model")
    assert not marker.exists() and asked == []


# -- 5. one writer per output folder --------------------------------------------------------
def test_second_run_into_one_out_is_refused_at_once(tiny, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from splade_lite.cli import main
    from splade_lite.training import recipes

    model, beir = tiny
    out = tmp_path / "out"
    with pytest.raises(_Stop):  # a first run's files: an interrupted run
        train_supervised(beir, out, _config(model), progress=False, on_step=_stop_at(2))
    before = _snapshot(out)

    def costly(*_args, **_kwargs):
        raise AssertionError("the refused run started working")

    monkeypatch.setattr(recipes, "load_corpus", costly)
    config = _config(model)
    with lock_folder(out):  # the first run, still writing
        for call in (
            lambda: train_supervised(beir, out, config, progress=False, overwrite=True),
            lambda: train_supervised(beir, out, config, progress=False, resume=True),
            lambda: adapt_corpus(
                beir / "corpus.jsonl",
                out,
                replace(config, loss="kl"),
                progress=False,
                overwrite=True,
            ),  # fmt: skip
        ):
            with pytest.raises(FileExistsError, match="another splade-lite process"):
                call()
        args = ["adapt", str(beir / "corpus.jsonl"), "--out", str(out), "--base", str(model),
                "--overwrite", "--quiet"]  # fmt: skip
        result = CliRunner().invoke(main, args, input="")
        assert result.exit_code != 0 and "another splade-lite process" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert _snapshot(out) == before  # the first run's files untouched
    # once the lock is released, the same call goes ahead (as far as the patched corpus)
    with pytest.raises(AssertionError, match="started working"):
        train_supervised(beir, out, config, progress=False, resume=True)


# -- 6. --overwrite never deletes what splade-lite did not write ----------------------------------
@pytest.mark.slow
def test_overwrite_refuses_a_folder_with_user_files(tiny, tmp_path):
    model, beir = tiny
    config = _config(model, max_steps=1)

    user = tmp_path / "user"  # a user's folder: a thesis and a "training" folder of notes
    (user / "training").mkdir(parents=True)
    (user / "thesis.txt").write_text("years of work")
    (user / "training" / "notes.txt").write_text("more work")
    (user / "config.json").write_text("{}")  # someone's own model config
    before = _snapshot(user)
    for overwrite in (True, False):
        with pytest.raises(FileExistsError, match=r"did not write \(config\.json, thesis\.txt"):
            train_supervised(beir, user, config, progress=False, overwrite=overwrite)
        assert _snapshot(user) == before

    ours = tmp_path / "ours"  # a model of ours, then a user file dropped into it
    train_supervised(beir, ours, config, progress=False)
    (ours / "thesis.txt").write_text("years of work")
    before = _snapshot(ours)
    with pytest.raises(FileExistsError, match="thesis.txt"):
        train_supervised(beir, ours, config, progress=False, overwrite=True)
    assert _snapshot(ours) == before
    # without it, --overwrite replaces our model and leaves nothing stale behind
    (ours / "thesis.txt").unlink()
    (ours / "merges.txt").write_text("stale file of an earlier model of ours\n")
    meta = json.loads((ours / "splade_lite_model.json").read_text())
    meta["files"].append("merges.txt")
    (ours / "splade_lite_model.json").write_text(json.dumps(meta))
    train_supervised(beir, ours, config, progress=False, overwrite=True)
    assert not (ours / "merges.txt").exists() and (ours / "config.json").is_file()


def test_save_model_never_replaces_or_deletes_user_files(tiny, tmp_path):
    from splade_lite.training.model import load_trainable
    from splade_lite.training.save import STAGING_DIR, save_model

    model, _ = tiny
    trainable = load_trainable(model)
    info = {"base": str(model), "mode": "splade", "max_length": 32}

    folder = tmp_path / "a"
    (folder / "model.safetensors").mkdir(parents=True)  # a user's folder under a model name
    (folder / "model.safetensors" / "data.bin").write_bytes(b"keep")
    (folder / "vocab.txt").write_text("the user's vocabulary\n")
    before = _snapshot(folder)
    with pytest.raises(FileExistsError, match="not written by splade-lite"):
        save_model(trainable, folder, info)
    assert _snapshot(folder) == before and not (folder / "config.json").exists()

    stale = tmp_path / "b" / STAGING_DIR  # a folder under the staging name, not ours
    stale.mkdir(parents=True)
    (stale / "keep.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not a staging folder"):
        save_model(trainable, tmp_path / "b", info)
    assert (stale / "keep.txt").read_text() == "keep"

    mixed = tmp_path / "c"  # other files are left alone; saving twice replaces our own
    mixed.mkdir()
    (mixed / "notes.txt").write_text("keep")
    save_model(trainable, mixed, info)
    save_model(trainable, mixed, info)
    assert (mixed / "notes.txt").read_text() == "keep" and (mixed / "config.json").is_file()
    assert not (mixed / STAGING_DIR).exists()
    # a model saved before its metadata listed its files is recognised by Hugging Face's names
    meta = json.loads((mixed / "splade_lite_model.json").read_text())
    del meta["files"]
    (mixed / "splade_lite_model.json").write_text(json.dumps(meta))
    save_model(trainable, mixed, info)
    assert (mixed / "notes.txt").read_text() == "keep"


# -- 7. crafted run files give one line naming the file ------------------------------------------
def test_crafted_run_files_give_one_line_naming_them(tiny, tmp_path):
    from splade_lite.io import InputError
    from splade_lite.training.data import read_examples
    from splade_lite.training.outdir import RunFileError
    from splade_lite.training.trainer import load_run_data, open_run

    good = '{"query": "q", "docs": ["d1", "d2"], "scores": [1.0, 0.5], "source": "s"}\n'
    bad_lines = {
        "not json {": "malformed JSON",
        '["a list"]': "expected a JSON object",
        '{"query": 3, "docs": ["d1"]}': "'query' must be a string",
        '{"query": "q", "docs": "d1"}': "'docs' must be a non-empty list",
        '{"query": "q", "docs": ["d1"], "scores": [NaN]}': "NaN is not a finite number",
        '{"query": "q", "docs": ["d1", "d2"], "scores": [1.0]}': "one finite number per doc",
        '{"query": "q", "docs": ["d1"], "source": 5}': "'source' must be a string",
        "[" * 100_000: "nested too deeply",
    }
    path = tmp_path / "examples.jsonl"
    for line, reason in bad_lines.items():
        path.write_text(good + line + "\n")
        with pytest.raises(InputError, match=rf"examples\.jsonl:2: .*{reason}"):
            read_examples(path)
    path.write_bytes(good.encode() + b'{"query": "\xff"}\n')
    with pytest.raises(InputError, match=r"examples\.jsonl:2: invalid UTF-8"):
        read_examples(path)

    out = tmp_path / "out"
    run = out / "training"
    run.mkdir(parents=True)
    (run / "examples.jsonl").write_text(good)
    (run / "run.json").write_text(json.dumps({"options": {"command": "train"}}))
    for name, text, reason in [
        ("data.json", '{"teacher_scale": "x"}', r"data\.json: teacher_scale"),
        ("data.json", "[1]", r"data\.json: expected a JSON object"),
        ("data.json", "{", r"data\.json:1: not valid JSON"),
        ("idf.json", '{"a": "x"}', r"idf\.json: the weight of 'a'"),
        ("idf.json", '{"a": Infinity}', r"idf\.json: not a JSON file"),
    ]:
        if name == "idf.json":
            (run / "data.json").write_text('{"teacher_scale": 1.0, "num_docs": 2}')
        (run / name).write_text(text)
        with pytest.raises(RunFileError, match=reason):
            load_run_data(out)
    (run / "idf.json").write_text('{"a": 0.0, "b": 1.5}')  # zero weights kept as saved
    examples, idf, facts = load_run_data(out)
    assert idf == {"a": 0.0, "b": 1.5} and facts["teacher_scale"] == 1.0 and len(examples) == 1

    for text, reason in [("[]", "expected a JSON object"), ('{"options": 1}', "not the run.json")]:
        (run / "run.json").write_text(text)
        with pytest.raises(RunFileError, match=rf"run\.json: {reason}"):
            open_run(out, {"command": "train"}, resume=True, overwrite=False)


def test_crafted_teacher_vectors_give_one_line_naming_the_file(tmp_path):
    from splade_lite.io import InputError
    from splade_lite.training.recipes import load_teacher_vectors

    class Encoder:  # what load_teacher_vectors asks of the teacher
        name = "teacher"
        terms = ["a", "b"]

        class source:  # noqa: N801
            @staticmethod
            def weights_sha256() -> None:
                return None

            @staticmethod
            def weights_file() -> None:
                return None

    vectors = tmp_path / "vectors"
    vectors.mkdir()
    good = json.dumps({"id": "d1", "contents": "", "vector": {"a": 3}})
    (vectors / "part-00000.jsonl").write_text(good + "\n" + '{"id": "d2", "vector": {"a": "x"}}\n')
    meta = {"model": "teacher", "mode": "splade", "max_length": 32, "num_docs": 2}
    for scale, match in [
        ("100", r"vectors\.json: .*scale '100'"),
        (100, r"part-00000\.jsonl:2: weight 'x'"),
    ]:
        meta["scale"] = scale
        (vectors / "vectors.json").write_text(json.dumps(meta))
        with pytest.raises((InputError, ValueError), match=match):
            load_teacher_vectors(vectors, ["d1", "d2"], Encoder())
    (vectors / "part-00000.jsonl").write_text(good + "\n")
    (loaded,) = load_teacher_vectors(vectors, ["d1"], Encoder())
    assert np.allclose(loaded.values, [0.03])
