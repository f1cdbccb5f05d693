"""The evaluation files: queries (topics), relevance judgements (qrels) and TREC runs.

Queries and qrels are read whole (they are small next to a corpus); runs are written
atomically and read back for evaluation. Line reading, gzip, id checks and text cleaning are
those of :mod:`splade_lite.io`, so every problem is an :class:`~splade_lite.io.InputError`
whose message starts with ``path:line:``, as for a corpus.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from splade_lite.atomic import atomic_write
from splade_lite.errors import BadValueError
from splade_lite.io import (
    InputError,
    JsonSchema,
    PathLike,
    bad_id_char,
    check_id,
    clean_text,
    detect_format,
    is_tsv_header,
    parse_json_object,
    resolve_input,
    text_lines,
)

__all__ = ["Query", "read_qrels", "read_queries", "read_trec_run", "write_trec_run"]

_QUERY_ID_KEYS = ("_id", "id", "qid", "query_id")
_QUERY_TEXT_KEYS = ("text", "query")


@dataclass(frozen=True)
class Query:
    """One query (topic)."""

    id: str
    text: str


# --------------------------------------------------------------------------------------------
# Queries and qrels


def read_queries(path: PathLike) -> list[Query]:
    """Read all queries, in file order.

    Formats: JSON lines with BEIR ``{_id, text}`` records (id key ``_id``/``id``/``qid``/
    ``query_id``, text key ``text``/``query``), or TSV ``qid<TAB>text``; gzip accepted; a
    folder is read through its ``queries.jsonl``. Errors and text cleaning as for
    :func:`~splade_lite.io.read_corpus`; duplicate query ids are errors. Empty query texts
    are kept.
    """
    file = resolve_input(path, ("queries.jsonl", "queries.jsonl.gz"), "queries")
    fmt = detect_format(file)
    schema = JsonSchema(_QUERY_ID_KEYS, _QUERY_TEXT_KEYS)
    queries: list[Query] = []
    seen: set[str] = set()
    first = True
    for lineno, line in text_lines(file):
        try:
            if fmt == "json":
                qid, text, _ = schema.fields(parse_json_object(line))
            else:
                fields = line.split("\t")
                if first and is_tsv_header(fields):
                    first = False
                    continue
                if len(fields) != 2:
                    raise BadValueError(
                        f"expected 2 tab-separated fields (id, text), found {len(fields)}"
                    )
                qid, text = check_id(fields[0], "id"), clean_text(fields[1])
            if qid in seen:
                raise BadValueError(f"duplicate id {qid!r}")
        except ValueError as e:
            raise InputError(file, lineno, str(e)) from None
        first = False
        seen.add(qid)
        queries.append(Query(qid, text))
    return queries


def _parse_relevance(value: str) -> int:
    """Relevance grade as an int; ``"2.0"`` is accepted as 2, ``"0.5"`` is not."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise BadValueError(f"relevance {value!r} is not an integer") from None
    if not number.is_integer():
        raise BadValueError(f"relevance {value!r} is not an integer")
    return int(number)


def read_qrels(path: PathLike) -> dict[str, dict[str, int]]:
    """Read relevance judgements as ``{query id: {doc id: grade}}``.

    Accepts BEIR ``query-id corpus-id score`` (3 columns, header optional: a first line whose
    grade is not a number is taken as the header) and TREC ``qid iter docid rel`` (4 columns);
    columns may be separated by tabs or spaces; gzip accepted. The column count is fixed by the
    first data line. Grades are integers and may be 0 or negative. A pair judged twice with
    different grades is an error.
    """
    file = resolve_input(path, (), "qrels")
    qrels: dict[str, dict[str, int]] = {}
    n_columns: int | None = None
    first = True
    for lineno, line in text_lines(file):
        fields = line.split()
        try:
            if first and len(fields) in (3, 4) and not _is_number(fields[-1]):
                first = False
                continue  # header
            first = False
            if n_columns is None and len(fields) in (3, 4):
                n_columns = len(fields)
            if len(fields) != n_columns:
                raise BadValueError(
                    f"expected {n_columns or '3 or 4'} columns (BEIR: query-id corpus-id score;"
                    f" TREC: qid iter docid rel), found {len(fields)}"
                )
            qid, docid, grade = fields[0], fields[-2], _parse_relevance(fields[-1])
            judged = qrels.setdefault(qid, {})
            if judged.get(docid, grade) != grade:
                raise BadValueError(
                    f"query {qid!r} doc {docid!r} judged twice: {judged[docid]} and {grade}"
                )
            judged[docid] = grade
        except ValueError as e:
            raise InputError(file, lineno, str(e)) from None
    return qrels


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Run files


def _hit_fields(hit: Any) -> tuple[str, float]:
    """``(docid, score)`` of a tuple or of an object with ``.docid`` and ``.score``."""
    if hasattr(hit, "docid") and hasattr(hit, "score"):
        return hit.docid, float(hit.score)
    docid, score = hit
    return docid, float(score)


def _check_run_token(value: object, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # as read_corpus does for integer ids
    if not isinstance(value, str) or not value or bad_id_char(value) is not None:
        raise BadValueError(f"{what} {value!r} must be a non-empty string without whitespace")
    return value


def write_trec_run(
    path: PathLike,
    results: Mapping[str, Iterable[Any]] | Iterable[tuple[str, Iterable[Any]]],
    tag: str = "splade-lite",
) -> int:
    """Write ranked results as a TREC run file, atomically; return the number of lines.

    ``results`` is a run ``{qid: hits}`` (as ``Searcher.batch_search`` returns for queries
    with ids) or yields ``(qid, hits)``, with hits already ranked best first, each hit a
    ``(docid, score)`` pair or an object with ``.docid`` and ``.score``. Lines are
    ``qid Q0 docid rank score tag`` with rank from 1 and the score written exactly (``repr``).
    Raises ``ValueError`` (and leaves ``path`` untouched) for a repeated query or document,
    an id with whitespace, a non-finite score, or scores that increase down a ranking.
    Evaluators rank by score and break ties by doc id, not by the rank written here.
    """
    _check_run_token(tag, "tag")
    seen_queries: set[str] = set()
    n_lines = 0
    pairs = results.items() if isinstance(results, Mapping) else results
    with atomic_write(path, "w") as out:
        for qid, hits in pairs:
            qid = _check_run_token(qid, "query id")
            if qid in seen_queries:
                raise BadValueError(f"query {qid!r} appears twice in the results")
            seen_queries.add(qid)
            seen_docs: set[str] = set()
            previous = math.inf
            for rank, hit in enumerate(hits, start=1):
                docid, score = _hit_fields(hit)
                docid = _check_run_token(docid, "doc id")
                if not math.isfinite(score):
                    raise BadValueError(f"query {qid!r} doc {docid!r}: score {score} is not finite")
                if score > previous:
                    raise BadValueError(
                        f"query {qid!r}: scores are not in descending order at rank {rank} "
                        f"({score!r} after {previous!r})"
                    )
                if docid in seen_docs:
                    raise BadValueError(f"query {qid!r}: doc {docid!r} appears twice")
                seen_docs.add(docid)
                previous = score
                out.write(f"{qid} Q0 {docid} {rank} {score!r} {tag}\n")
                n_lines += 1
    return n_lines


def read_trec_run(path: PathLike) -> dict[str, dict[str, float]]:
    """Read a TREC run (``qid Q0 docid rank score tag``) as ``{qid: {docid: score}}``.

    Columns may be separated by tabs or spaces; gzip accepted. The rank column must be an
    integer but is otherwise ignored (evaluators rank by score). A repeated (qid, docid) pair
    or a non-finite score is an error.
    """
    file = resolve_input(path, (), "run")
    run: dict[str, dict[str, float]] = {}
    for lineno, line in text_lines(file):
        fields = line.split()
        try:
            if len(fields) != 6:
                raise BadValueError(
                    f"expected 6 columns (qid Q0 docid rank score tag), found {len(fields)}"
                )
            qid, _, docid, rank, score_text, _ = fields
            try:
                int(rank)
                score = float(score_text)
            except ValueError:
                raise BadValueError(
                    f"rank {rank!r} must be an integer and score {score_text!r} a number"
                ) from None
            if not math.isfinite(score):
                raise BadValueError(f"score {score_text!r} is not finite")
            ranking = run.setdefault(qid, {})
            if docid in ranking:
                raise BadValueError(f"query {qid!r}: doc {docid!r} appears twice")
            ranking[docid] = score
        except ValueError as e:
            raise InputError(file, lineno, str(e)) from None
    return run
