"""Training examples: a query, its positive document, hard negatives, optional teacher scores.

Examples come from a BEIR folder's train qrels (:func:`qrels_pairs`) or, without any labels,
from pseudo-queries cut out of the corpus itself (:func:`pseudo_queries`). Hard negatives are
drawn from a ranking of the corpus for the query (:func:`sample_negatives`), made by the
project's own search (:func:`searcher_rankings`) or by the teachers (:mod:`.teacher`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splade_lite.atomic import atomic_write
from splade_lite.errors import BadValueError, MissingFileError
from splade_lite.io import Doc, InputError, read_corpus
from splade_lite.trec import read_qrels, read_queries


@dataclass
class TrainExample:
    """One training query: `docs[0]` is its positive, the rest are negatives (document ids).

    `scores`, when given, are teacher scores of `docs`, in the same order.
    """

    query: str
    docs: list[str]
    scores: list[float] | None = None
    source: str = field(default="", compare=False)  # where the query came from (qid, title…)


def write_examples(path: str | Path, examples: Iterable[TrainExample]) -> int:
    """Write examples as JSON lines (atomically); returns how many."""
    count = 0
    with atomic_write(path) as handle:
        for ex in examples:
            record = {"query": ex.query, "docs": ex.docs, "source": ex.source}
            if ex.scores is not None:
                record["scores"] = [round(float(s), 6) for s in ex.scores]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_examples(path: str | Path) -> list[TrainExample]:
    """Read examples written by :func:`write_examples`; a line that is not one gives an
    :class:`~splade_lite.io.InputError` naming the file and the line."""
    out = []
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if raw.strip():
                try:
                    out.append(_parse_example(raw))
                except ValueError as err:
                    raise InputError(path, lineno, str(err)) from None
    return out


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_example(raw: bytes) -> TrainExample:
    """One line of examples.jsonl, every field's type checked."""
    try:
        r = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as err:
        raise BadValueError(f"invalid UTF-8 at byte {err.start + 1} of the line") from None
    except json.JSONDecodeError as err:
        raise BadValueError(f"malformed JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise BadValueError("JSON nested too deeply") from None
    if not isinstance(r, dict):
        raise BadValueError("expected a JSON object (a training example)")
    query, docs, scores, source = r.get("query"), r.get("docs"), r.get("scores"), r.get("source")
    if not isinstance(query, str):
        raise BadValueError("'query' must be a string")
    if not isinstance(docs, list) or not docs or not all(isinstance(d, str) for d in docs):
        raise BadValueError("'docs' must be a non-empty list of document ids (strings)")
    if scores is not None and (
        not isinstance(scores, list) or len(scores) != len(docs) or not all(map(_finite, scores))
    ):
        raise BadValueError("'scores' must be one finite number per document")
    if source is not None and not isinstance(source, str):
        raise BadValueError("'source' must be a string")
    return TrainExample(query, docs, scores, source or "")


def _no_constant(name: str) -> object:
    raise BadValueError(f"{name} is not a finite number")


def load_corpus(path: str | Path) -> dict[str, Doc]:
    """The whole corpus in memory, id -> Doc, in file order (training needs random access)."""
    return {doc.id: doc for doc in read_corpus(path)}


# -- supervised ---------------------------------------------------------------------------------
def find_train_qrels(beir_dir: str | Path) -> Path:
    """``qrels/train.tsv`` of a BEIR folder, with a clear error when there is none."""
    folder = Path(beir_dir)
    for name in ("train.tsv", "train.tsv.gz"):
        path = folder / "qrels" / name
        if path.is_file():
            return path
    raise MissingFileError(
        f"{folder} has no qrels/train.tsv; give --qrels, or adapt without labels with "
        f"`splade-lite adapt {folder / 'corpus.jsonl'} --out MODEL_DIR`"
    )


def qrels_pairs(
    queries_path: str | Path, qrels_path: str | Path, corpus_ids: Iterable[str]
) -> list[tuple[str, str, list[str]]]:
    """(query id, query text, positive doc ids) for each judged query with a positive in the
    corpus (grade > 0), in the order of the queries file."""
    qrels = read_qrels(qrels_path)
    known = set(corpus_ids)
    out = []
    for query in read_queries(queries_path):
        positives = [d for d, g in qrels.get(query.id, {}).items() if g > 0 and d in known]
        if positives and query.text.strip():
            out.append((query.id, query.text, sorted(positives)))
    if not out:
        raise InputError(qrels_path, None, "no judged query has a positive document in the corpus")
    return out


# -- unsupervised -------------------------------------------------------------------------------
def pseudo_queries(
    docs: Sequence[Doc],
    rng: np.random.Generator,
    *,
    titles: bool = True,
    spans: int = 1,
    span_words: tuple[int, int] = (6, 16),
    min_title_words: int = 3,
) -> list[tuple[str, str, str]]:
    """(query text, source doc id, kind) made from the corpus itself.

    A title of at least `min_title_words` words is a query for its document (when the
    document has a body); `spans` random runs of `span_words` words (inclusive range) are cut
    from each body, as in independent cropping (Izacard et al. 2022).
    """
    low, high = span_words
    if not 1 <= low <= high:
        raise BadValueError(f"span_words must be 1 <= low <= high, got {span_words}")
    out = []
    for doc in docs:
        words = doc.text.split()
        if titles and len(doc.title.split()) >= min_title_words and words:
            out.append((doc.title, doc.id, "title"))
        if not words:
            continue
        for _ in range(spans):
            length = int(rng.integers(low, high + 1))
            if len(words) <= length:
                span = words
            else:
                start = int(rng.integers(0, len(words) - length + 1))
                span = words[start : start + length]
            out.append((" ".join(span), doc.id, "span"))
    return out


#: Joins a document id and a marker into the id of that document with a span cut out.
CLOZE_MARK = "\x1fcloze"


def without_span(doc: Doc, span: str) -> str | None:
    """`doc`'s full text with the first run of `span`'s words cut out of its body (the
    inverse cloze task of Lee et al., 2019); None when the body does not hold the span or
    nothing would be left."""
    words, cut = doc.text.split(), span.split()
    for start in range(len(words) - len(cut) + 1):
        if words[start : start + len(cut)] == cut:
            rest = words[:start] + words[start + len(cut) :]
            return Doc(doc.id, " ".join(rest), doc.title).full_text if rest else None
    return None


#: Joins a document id and a marker into the id of that document's body without its title.
TITLE_CLOZE_MARK = "\x1ftitle-cloze"


def body_alone(doc: Doc) -> str | None:
    """`doc`'s body without its title (the positive of a title query in the inverse cloze
    task); None when it has no title or no body."""
    return doc.text if doc.title.strip() and doc.text.strip() else None


def _cut(doc: Doc, example: TrainExample) -> str | None:
    """The text of `example`'s positive with its query taken out (None: it cannot be)."""
    if example.source.startswith("title:"):
        return body_alone(doc) if doc.title == example.query else None
    return without_span(doc, example.query)


def _mark(example: TrainExample) -> str:
    return TITLE_CLOZE_MARK if example.source.startswith("title:") else CLOZE_MARK


def cloze_positives(
    examples: Sequence[TrainExample],
    docs: Mapping[str, Doc],
    share: float,
    rng,
    title_share: float = 0.0,
) -> list[TrainExample]:
    """`examples` where a `share` of the span queries (drawn with `rng`) have, as positive,
    their document without the span, and a `title_share` of the title queries their body
    alone (ids ``<doc id>`` + :data:`CLOZE_MARK` or :data:`TITLE_CLOZE_MARK`); the teacher's
    score stays that of the whole document. Only expansion terms can then match the query's
    words, which is what an inference-free document needs to learn."""
    out = []
    for ex in examples:
        positive = ex.docs[0]
        wanted = {"span": share, "title": title_share}.get(ex.source.split(":", 1)[0], 0.0)
        # no draw for a kind that is never cut, so runs without title_share draw as before
        if wanted > 0 and rng.random() < wanted and _cut(docs[positive], ex) is not None:
            cut = [positive + _mark(ex), *ex.docs[1:]]
            ex = TrainExample(ex.query, cut, ex.scores, ex.source)
        out.append(ex)
    return out


def cloze_texts(examples: Iterable[TrainExample], docs: Mapping[str, Doc]) -> dict[str, str]:
    """The texts of the cut documents that `examples` name (rebuilt from their queries, so a
    resumed run gets them back from its saved examples)."""
    out = {}
    for ex in examples:
        for doc_id in ex.docs:
            mark = next((m for m in (CLOZE_MARK, TITLE_CLOZE_MARK) if doc_id.endswith(m)), None)
            if mark is not None:
                if mark != _mark(ex):
                    raise BadValueError(f"{doc_id!r}: not the cut its query's kind makes")
                base = doc_id[: -len(mark)]
                if base not in docs:
                    raise BadValueError(f"an example names document {base!r}, not in the corpus")
                text = _cut(docs[base], ex)
                if text is None:
                    raise BadValueError(f"{doc_id!r}: its query is not in the document any more")
                out[doc_id] = text
    return out


# -- negatives ----------------------------------------------------------------------------------
def sample_negatives(
    ranking: Sequence[str],
    positives: Iterable[str],
    count: int,
    rng: np.random.Generator,
    all_ids: Sequence[str] = (),
    skip: int = 0,
) -> list[str]:
    """`count` hard negatives drawn without replacement from `ranking` (best first) less the
    positives and then its first `skip` entries (likely unjudged positives); topped up at
    random from `all_ids` if the ranking has too few."""
    banned = set(positives)
    pool = list(dict.fromkeys(d for d in ranking if d not in banned))[skip:]
    if len(pool) >= count:
        chosen = rng.choice(len(pool), size=count, replace=False)
        return [pool[i] for i in sorted(chosen)]
    picked = list(pool)
    taken = banned | set(picked)
    others = [d for d in all_ids if d not in taken]
    if len(others) < count - len(picked):
        raise BadValueError(f"the corpus has too few documents for {count} negatives per query")
    extra = rng.choice(len(others), size=count - len(picked), replace=False)
    return picked + [others[i] for i in sorted(extra)]


def searcher_rankings(
    searcher, queries: Sequence[str], k: int, threads: int = 1
) -> list[list[str]]:
    """The top `k` doc ids of each query by a :class:`~splade_lite.search.Searcher`."""
    return [[h.docid for h in hits] for hits in searcher.batch_search(list(queries), k, threads)]


# -- IDF for inference-free training --------------------------------------------------------
def corpus_idf(
    tokenizer, texts: Iterable[str], max_length: int, batch: int = 256
) -> dict[str, float]:
    """IDF of each token over the (truncated) texts, as ``splade-lite encode`` counts it:
    log((N + 1) / (df + 1)), special tokens left out."""
    from splade_lite.encoders.base import vocab_terms
    from splade_lite.encoders.inference_free import count_document_frequencies, idf_from_df

    df: Counter[int] = Counter()
    num_docs = 0
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        num_docs += 1
        if len(chunk) == batch:
            count_document_frequencies(tokenizer, chunk, max_length, df)
            chunk = []
    count_document_frequencies(tokenizer, chunk, max_length, df)
    terms = vocab_terms(tokenizer)
    return idf_from_df({terms[i]: n for i, n in df.items() if i < len(terms)}, num_docs)


def check_examples(examples: Sequence[TrainExample], docs: Mapping[str, Doc], group: int) -> None:
    """Every example names `group` known documents (and teacher scores for them, if any)."""
    for n, ex in enumerate(examples):
        if len(ex.docs) < group:
            raise BadValueError(f"example {n} has {len(ex.docs)} documents, {group} are needed")
        missing = [d for d in ex.docs[:group] if d not in docs]
        if missing:
            raise BadValueError(f"example {n}: document {missing[0]!r} is not in the corpus")
        if ex.scores is not None and (
            len(ex.scores) < group or not all(math.isfinite(s) for s in ex.scores)
        ):
            raise BadValueError(f"example {n}: needs {group} finite teacher scores")
