"""Synthesize a vectors folder of N documents from a real one, keeping its term statistics.

For scale benchmarks: a million SPLADE documents without encoding a million texts. The source
is a vectors folder ``splade-lite encode`` wrote; the output is one ``splade-lite index``
takes as it takes encode's (same shards, ``vectors.json``, ``df.json``, ``docs.jsonl.gz``,
``tokenizer/`` and ``idf.json``), with ids ``syn-0000001``, ``syn-0000002``, ...

Method. The source is read into arrays (memory grows with the source, never with N). Each
synthetic document draws a *base* document of the source uniformly at random and takes its
length, so the distribution of terms per document is the source's. Each of the base's terms
is kept, with its weight, with probability `keep` (0.5 by default); every other one is
replaced by a term drawn from a replacement distribution ``q`` over the vocabulary, with a
weight drawn uniformly from that term's weights in the source. A draw that gives a term the
document already holds is drawn again, so the length stays the base's. Every kept or drawn
(term, weight) pair is one of the source's postings for that term, so each term's weight
distribution is the source's.

``q`` proportional to df would keep each term's expected number of occurrences per document
at its source fraction df/N, but a document holds a term at most once: a term in nearly
every document (93% of scifact's documents hold ``cancer`` under splade-tiny) would be drawn
into documents that hold it already, drawn again, and end up in fewer documents than it
should. So ``q`` is first set to the Poisson rate ``-ln(1 - share)`` that draws each term into
the share of documents it must reach among those that did not keep it, then corrected on
pilot draws (4 rounds of 20,000 documents, or of N but at least 5,000 when N is smaller,
from their own seeded generator) by a Newton step in that model: a frequent term by its own
pilot count, a rare one (under ~2,000 pilot draws) mostly by the step of all terms together,
so that pilot noise does not spread into rare terms. Measured on scifact (splade-tiny,
100,000 documents; 5th to 95th percentile of the ratio synthetic/source df fraction): within
1% for the terms of over half the documents, 2% from 10% to 50%, 4% (sampling noise) from
1% to 10%.

No two synthetic documents are equal: documents drawn from the same base share each
position with probability at most ``keep² + (1 - keep)²`` (1/2 at the default), so two of
``L`` terms coincide with probability at most that to the power ``L``. Documents shorter than
the length at which that falls under 1e-24 (80 terms at the default `keep`) are hashed
(64 bits, order-free), and one equal to an earlier one is drawn again; longer ones are
distinct but with a vanishing probability, and are not remembered, so the only memory that
grows with N is one 64-bit hash (a Python set entry) per short document. A base without
terms gives a document without terms (the placeholder term that keeps it in Lucene): those
are equal to each other, as they are in the source.

Speed and memory: the draws are numpy over chunks of 2,048 documents; each shard line is
assembled from pre-encoded JSON fragments of each term and weight (the same bytes
:func:`splade_lite.vectors_folder.record_line` gives, checked by the tests), joined once per
chunk. Shards of `shard_size` documents are written one after the other, each atomically,
into a staging folder that is renamed onto the output at the end (as ``index`` does). From
scifact's splade-tiny vectors (247 terms a document) on a shared 2-core machine: 8,500 to
10,000 documents/s, 1,000,000 documents (3.4 GB of shards) in about 2 minutes after 7 s of
reading and calibrating, in under 200 MB of memory (150 MB for 100,000, 177 MB for 10 times
as many).

``df.json`` holds the document frequencies of the terms written (not, as encode's does, of
the tokens of texts: synthetic documents have none), so an inference-free index of the folder
takes its IDF from them. ``vectors.json`` is the source's with the counts of the output, the
corpus fields removed and a ``synthetic`` object naming the source, seed and method.

Run as ``python benchmarks/synthesize.py SOURCE_VECTORS --docs 1000000 --out OUT [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.vectors import EMPTY_DOC_TOKEN

DEFAULT_KEEP = 0.5
DEFAULT_SHARD_SIZE = 100_000  # encode's
#: Documents drawn and rendered per step.
CHUNK_DOCS = 2048
#: Pilot documents and rounds for calibrating the replacement distribution.
PILOT_DOCS, PILOT_MIN_DOCS, PILOT_ROUNDS, PILOT_PSEUDO = 20_000, 5_000, 4, 2000.0
#: The largest share of documents a replacement is aimed at (a rate stays finite).
SATURATION = 0.999
#: Documents shorter than the length where two equal ones are this improbable are hashed.
DUPLICATE_BOUND = 1e-24
#: Draws of one document (or one replacement) before giving up.
MAX_TRIES = 1000
ID_PREFIX = "syn-"
METHOD = "benchmarks/synthesize.py: base document's length, terms kept or replaced"


class SynthesisError(Exception):
    """The source cannot give the documents asked for (one line)."""


# --------------------------------------------------------------------------------------------
# The source, in arrays


@dataclass
class Source:
    """A real vectors folder as arrays: document d's postings are
    ``term_ids[starts[d]:starts[d] + lengths[d]]`` (and the same slice of ``weights``), in
    term id order."""

    folder: Path
    meta: dict
    terms: list[str]  # the vocabulary, in order of first sight; no placeholder
    docids: list[str]
    lengths: np.ndarray  # int64, documents
    starts: np.ndarray  # int64, documents
    term_ids: np.ndarray  # int32, postings
    weights: np.ndarray  # int64, postings
    df: np.ndarray  # int64, terms
    # each term's weights, grouped by term: term t's are by_term[term_starts[t]:][:df[t]]
    by_term: np.ndarray
    term_starts: np.ndarray

    @property
    def num_docs(self) -> int:
        return len(self.lengths)

    @property
    def num_postings(self) -> int:
        return len(self.term_ids)


def load_source(folder: Path) -> Source:
    """Read (and check, line by line) a vectors folder's shards into arrays."""
    from splade_lite.shards import iter_checked_records

    folder = Path(folder)
    meta = vf.read_vectors_meta(folder)
    table: dict[str, int] = {}
    lookup = table.setdefault
    docids: list[str] = []
    # compact arrays, not lists of Python ints: a source of millions of postings fits
    lengths, ids, weights = array("q"), array("i"), array("q")
    for record in iter_checked_records(folder):
        vector = record["vector"]
        if EMPTY_DOC_TOKEN in vector:
            vector = {t: w for t, w in vector.items() if t != EMPTY_DOC_TOKEN}
        docids.append(record["id"])
        lengths.append(len(vector))
        ids.extend([lookup(term, len(table)) for term in vector])
        weights.extend(vector.values())
    if not docids:
        raise SynthesisError(f"{folder} holds no documents")
    if not table:
        raise SynthesisError(f"{folder}: every document is empty; nothing to draw terms from")
    length_array = np.frombuffer(lengths, dtype=np.int64).copy()
    raw_ids = np.frombuffer(ids, dtype=np.int32)
    # each document's postings in term id order (Sampler.draw relies on it)
    within = np.lexsort((raw_ids, np.repeat(np.arange(len(length_array)), length_array)))
    term_ids = raw_ids[within]
    weight_array = np.frombuffer(weights, dtype=np.int64)[within]
    del ids, weights
    df = np.bincount(term_ids, minlength=len(table)).astype(np.int64)
    order = np.argsort(term_ids, kind="stable")
    return Source(
        folder=folder,
        meta=meta,
        terms=list(table),
        docids=docids,
        lengths=length_array,
        starts=np.cumsum(length_array) - length_array,
        term_ids=term_ids,
        weights=weight_array,
        df=df,
        by_term=weight_array[order],
        term_starts=np.cumsum(df) - df,
    )


# --------------------------------------------------------------------------------------------
# Drawing documents


def _ragged(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices ``starts[i] .. starts[i] + lengths[i] - 1`` of every i, concatenated."""
    total = int(lengths.sum())
    begins = np.cumsum(lengths) - lengths
    return np.repeat(starts - begins, lengths) + np.arange(total, dtype=np.int64)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 of each value (uint64 in, uint64 out; wraps)."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass
class Drawn:
    """Documents drawn: the i-th has ``lengths[i]`` postings of the flat arrays, in order;
    ``replaced`` marks the postings that are not the base's own."""

    bases: np.ndarray
    lengths: np.ndarray
    term_ids: np.ndarray
    weights: np.ndarray
    replaced: np.ndarray

    @property
    def begins(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths


def _holds(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which of `keys` the sorted array `table` holds."""
    if not len(table):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return table[at] == keys


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of a discrete distribution (Vose's construction): column i is
    drawn uniformly, then kept with probability ``prob[i]``, else replaced by ``alias[i]``."""
    count = len(weights)
    prob = np.asarray(weights, dtype=np.float64) * (count / float(np.sum(weights)))
    alias = np.arange(count, dtype=np.int64)
    small = [i for i in range(count) if prob[i] < 1.0]
    large = [i for i in range(count) if prob[i] >= 1.0]
    scaled = prob.tolist()
    while small and large:
        low, high = small.pop(), large.pop()
        alias[low] = high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    for i in small + large:  # what rounding left over
        scaled[i] = 1.0
    return np.array(scaled), alias


class Sampler:
    """Draws synthetic documents from a source (see the module docstring)."""

    def __init__(self, source: Source, keep: float, q: np.ndarray | None = None) -> None:
        if not 0.0 <= keep < 1.0:
            raise SynthesisError(f"keep must be in [0, 1), got {keep}")
        self.source, self.keep = source, keep
        self.set_q(source.df.astype(np.float64) if q is None else q)

    def set_q(self, q: np.ndarray) -> None:
        self.q = q
        self.alias_prob, self.alias = alias_table(q)

    def _replacements(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """`n` (term, weight) draws: a term by ``q``, one of its source weights uniformly."""
        source = self.source
        column = rng.integers(0, len(self.alias), n)
        terms = np.where(rng.random(n) < self.alias_prob[column], column, self.alias[column])
        picks = source.term_starts[terms] + (rng.random(n) * source.df[terms]).astype(np.int64)
        return terms.astype(np.int32), source.by_term[picks]

    def draw(self, rng: np.random.Generator, bases: np.ndarray) -> Drawn:
        """One synthetic document for each base document, terms distinct within each."""
        source = self.source
        lengths = source.lengths[bases]
        postings = _ragged(source.starts[bases], lengths)
        term_ids = source.term_ids[postings]
        weights = source.weights[postings]
        replaced = rng.random(len(postings)) >= self.keep
        todo = np.flatnonzero(replaced)
        docs = np.repeat(np.arange(len(bases), dtype=np.int64), lengths)
        vocab = np.int64(len(source.terms))
        # (document, term) of every posting placed so far, sorted, in two arrays: `taken`
        # (the kept ones, sorted already: a source document's terms are in term id order,
        # documents in order; the first round's draws merged in) and `extra` (the later
        # rounds' draws, few), so that no round copies the big one again
        taken = (docs * vocab + term_ids)[~replaced]
        extra = taken[:0]
        for round_ in range(MAX_TRIES):
            if todo.size == 0:
                break
            terms, drawn_weights = self._replacements(rng, todo.size)
            keys = docs[todo] * vocab + terms
            order = np.argsort(keys, kind="stable")
            ordered = keys[order]
            # a term the document holds already, or drawn twice for it (the first one stays),
            # is drawn again
            clash = _holds(taken, ordered) | _holds(extra, ordered)
            clash[1:] |= ordered[1:] == ordered[:-1]
            fine = order[~clash]
            term_ids[todo[fine]], weights[todo[fine]] = terms[fine], drawn_weights[fine]
            if round_ == 0:
                taken = np.insert(taken, np.searchsorted(taken, ordered[~clash]), ordered[~clash])
            else:
                extra = np.insert(extra, np.searchsorted(extra, ordered[~clash]), ordered[~clash])
            todo = np.sort(todo[order[clash]])
        else:
            raise SynthesisError(
                f"{source.folder}: cannot draw distinct terms for a document after "
                f"{MAX_TRIES} tries (is the vocabulary smaller than a document?)"
            )
        return Drawn(bases, lengths, term_ids, weights, replaced)


def _rate(share: np.ndarray) -> np.ndarray:
    """The Poisson rate at which a term is drawn into a given share of documents."""
    return -np.log1p(-np.clip(share, 0.0, SATURATION))


def calibrate(sampler: Sampler, seed: int, docs: int = PILOT_DOCS) -> None:
    """Set the sampler's replacement distribution so that each term's document frequency
    (as a fraction) in drawn documents is its source's (see the module docstring)."""
    source = sampler.source
    if source.num_postings == 0:
        return
    rng = np.random.default_rng([seed, 1])  # the pilot's own stream
    vocab, keep = len(source.terms), sampler.keep
    fraction = source.df / source.num_docs
    # first guess: the rate that draws each term into the share of documents it must reach
    # among those that did not keep it
    q = _rate((1 - keep) * fraction / (1 - keep * fraction))
    sampler.set_q(q)
    for _ in range(PILOT_ROUNDS):
        got = np.zeros(vocab, dtype=np.int64)
        kept = np.zeros(vocab, dtype=np.int64)
        for first in range(0, docs, CHUNK_DOCS):  # in chunks: memory stays that of a chunk
            bases = rng.integers(0, source.num_docs, min(CHUNK_DOCS, docs - first))
            drawn = sampler.draw(rng, bases)
            got += np.bincount(drawn.term_ids[drawn.replaced], minlength=vocab)
            kept += np.bincount(drawn.term_ids[~drawn.replaced], minlength=vocab)
        without = np.maximum(docs - kept, 1)  # pilot documents that did not keep the term
        wanted = np.maximum(fraction * docs - kept, 0.0) / without
        # a Newton step in the Poisson model (rates, in counts): each term's own step where
        # its count says much, the step of all terms together where it says little
        want = _rate(wanted) * without + 1.0
        have = _rate(got / without) * without + 1.0
        overall = np.log(want.sum() / have.sum())
        trust = have / (have + PILOT_PSEUDO)
        q = q * np.exp(overall + trust * (np.log(want / have) - overall))
        sampler.set_q(q)


def short_length(keep: float, bound: float = DUPLICATE_BOUND) -> int:
    """Documents shorter than this are checked for duplicates (see the module docstring)."""
    agree = keep * keep + (1 - keep) * (1 - keep)
    return math.ceil(math.log(bound) / math.log(agree)) if agree < 1 else 1 << 62


# --------------------------------------------------------------------------------------------
# Writing shard lines


class Renderer:
    """Shard lines from drawn documents, from pre-encoded JSON fragments: the bytes of
    ``vf.record_line(vf.document_record(id, {term: weight, ...}))``."""

    def __init__(self, terms: list[str], max_weight: int, width: int, base_ids: list[str]) -> None:
        keys = [json.dumps(t, ensure_ascii=False) + ": " for t in [*terms, EMPTY_DOC_TOKEN]]
        self.vocab = len(terms)  # term id `vocab` is the placeholder
        self.keys = np.array(keys + [", " + k for k in keys], dtype=object)
        self.weights = np.array([str(w) for w in range(max_weight + 1)], dtype=object)
        self.width = width
        # each base id as it ends a snippet's JSON text (quote included); None for one too
        # long for the snippet, which is then cut
        longest = len(f"synthetic document {self.docid(0)} drawn from ")
        self.base_ids = base_ids
        self.base_tails = [
            json.dumps(b, ensure_ascii=False)[1:] if longest + len(b) <= vf.SNIPPET_CHARS else None
            for b in base_ids
        ]

    def docid(self, number: int) -> str:
        return f"{ID_PREFIX}{number:0{self.width}d}"

    def snippets(self, first: int, bases: np.ndarray) -> str:
        """The ``docs.jsonl.gz`` lines of documents numbered from `first`: no title, the
        text ``synthetic document ID drawn from BASE`` (``vf.snippet_line``'s bytes)."""
        lines = []
        for i, base in enumerate(bases.tolist()):
            docid = self.docid(first + i)
            tail = self.base_tails[base]
            if tail is None:  # a long base id: the snippet is cut
                text = f"synthetic document {docid} drawn from {self.base_ids[base]}"
                lines.append(vf.snippet_line(docid, "", text))
            else:
                lines.append(
                    f'{{"id": "{docid}", "title": "", "text": "synthetic document {docid} '
                    f"drawn from {tail}}}\n"
                )
        return "".join(lines)

    def lines(self, first: int, lengths: np.ndarray, terms: np.ndarray, weights: np.ndarray):
        """The lines of documents numbered from `first` (empty ones get the placeholder)."""
        empty = lengths == 0
        if empty.any():  # the placeholder term, weight 1, as document_record gives it
            begins = np.cumsum(lengths) - lengths
            terms = np.insert(terms, begins[empty], self.vocab)
            weights = np.insert(weights, begins[empty], 1)
            lengths = np.where(empty, 1, lengths)
        count, total = len(lengths), len(terms)
        doc = np.repeat(np.arange(count), lengths)
        begins = np.cumsum(lengths) - lengths
        pieces = np.empty(2 * total + 2 * count, dtype=object)
        heads = 2 * begins + 2 * np.arange(count)
        pieces[heads] = [
            f'{{"id": "{self.docid(first + i)}", "contents": "", "vector": {{' for i in range(count)
        ]
        at = 2 * np.arange(total) + 2 * doc + 1
        later = np.ones(total, dtype=np.int64)
        later[begins] = 0
        pieces[at] = self.keys[terms + later * (self.vocab + 1)]
        pieces[at + 1] = self.weights[weights]
        pieces[heads + 2 * lengths + 1] = "}}\n"
        return "".join(pieces.tolist())


# --------------------------------------------------------------------------------------------
# The whole run


def synthesize(
    source: Path,
    out: Path,
    docs: int,
    seed: int = 0,
    *,
    keep: float = DEFAULT_KEEP,
    shard_size: int = DEFAULT_SHARD_SIZE,
    overwrite: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Write a vectors folder of `docs` synthetic documents drawn from the vectors folder
    `source` into `out`; returns what was written: docs, postings, empty, shards, seconds and
    docs_per_second (of the writing, after the source was read and the draws calibrated),
    source_docs, seed, keep. `progress` shows a tqdm bar; `log` gets one line per step.

    Same source, `docs`, `seed`, `keep` and `shard_size` give the same bytes.
    """
    from tqdm.auto import tqdm

    from splade_lite.atomic import atomic_write
    from splade_lite.outputs import VECTORS, claim_output

    say = log or (lambda _msg: None)
    if docs < 1:
        raise SynthesisError(f"docs must be at least 1, got {docs}")
    if shard_size < 1:
        raise SynthesisError(f"shard_size must be at least 1, got {shard_size}")
    source, out = Path(source), Path(out)
    started = time.perf_counter()
    real = load_source(source)
    sampler = Sampler(real, keep)
    calibrate(sampler, seed, min(PILOT_DOCS, max(docs, PILOT_MIN_DOCS)))
    say(
        f"read {real.num_docs} documents ({real.num_postings} postings, {len(real.terms)} "
        f"terms) of {source} in {time.perf_counter() - started:.1f} s"
    )
    claim = claim_output(out, VECTORS, inputs=(source,), overwrite=overwrite)
    tmp = claim.stage()
    try:
        begun = time.perf_counter()
        rng = np.random.default_rng([seed, 0])
        renderer = Renderer(
            real.terms, int(real.weights.max(initial=1)), max(7, len(str(docs))), real.docids
        )
        short = short_length(keep)
        seen: set[int] = set()
        df = np.zeros(len(real.terms), dtype=np.int64)
        counts = {"postings": 0, "empty": 0}
        shards: list[str] = []
        bar = tqdm(total=docs, unit="doc", desc="synthesizing", disable=not progress)
        with bar, atomic_write(tmp / vf.DOCS_FILE) as snippets:
            written = 0
            while written < docs:
                name = vf.shard_name(len(shards))
                with atomic_write(tmp / name) as shard:
                    end = min(docs, written + shard_size)
                    while written < end:
                        count = min(CHUNK_DOCS, end - written)
                        drawn = _unique(
                            sampler, rng, rng.integers(0, real.num_docs, count), seen, short
                        )
                        shard.write(
                            renderer.lines(
                                written + 1, drawn.lengths, drawn.term_ids, drawn.weights
                            )
                        )
                        df += np.bincount(drawn.term_ids, minlength=len(df))
                        counts["postings"] += int(drawn.lengths.sum())
                        counts["empty"] += int((drawn.lengths == 0).sum())
                        snippets.write(renderer.snippets(written + 1, drawn.bases))
                        written += count
                        bar.update(count)
                shards.append(name)
        seconds = time.perf_counter() - begun
        postings = counts["postings"] + counts["empty"]  # the placeholder is a posting too
        _finish(tmp, real, docs, seed, keep, shards, df, counts["empty"], postings, seconds)
        claim.commit(tmp)
    except BaseException:
        claim.abandon(tmp)
        raise
    summary = {
        "docs": docs,
        "postings": postings,
        "empty": counts["empty"],
        "shards": len(shards),
        "seconds": round(seconds, 3),
        "docs_per_second": round(docs / seconds, 1) if seconds else 0.0,
        "source_docs": real.num_docs,
        "seed": seed,
        "keep": keep,
    }
    say(
        f"wrote {docs} documents ({postings} postings, {len(shards)} shard(s)) in "
        f"{seconds:.1f} s ({summary['docs_per_second']:.0f} docs/s) -> {out}"
    )
    return summary


def _unique(
    sampler: Sampler, rng: np.random.Generator, bases: np.ndarray, seen: set[int], short: int
) -> Drawn:
    """Documents drawn for `bases`; a short one equal to one before is drawn again."""
    drawn = sampler.draw(rng, bases)
    check = np.flatnonzero((drawn.lengths > 0) & (drawn.lengths < short))
    for _ in range(MAX_TRIES):
        if check.size == 0:
            return drawn
        sums = _document_hashes(drawn, drawn.begins[check], drawn.lengths[check])
        again = []
        for i, value in zip(check.tolist(), sums.tolist()):
            if value in seen:
                again.append(i)
            else:
                seen.add(value)
        check = np.array(again, dtype=np.int64)
        if check.size:  # only those are checked again
            drawn = _redraw(sampler, rng, drawn, check)
    raise SynthesisError(
        f"{sampler.source.folder}: cannot draw a document unlike the ones before after "
        f"{MAX_TRIES} tries (the source's documents are too short for this many)"
    )


def _document_hashes(drawn: Drawn, begins: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """An order-free 64-bit hash of each document (b, n), n >= 1: the sum of the hashes of
    its (term, weight) pairs, wrapping."""
    index = _ragged(begins, lengths)
    pairs = drawn.term_ids[index].astype(np.uint64) << np.uint64(32)
    hashes = _mix(pairs | drawn.weights[index].astype(np.uint64))
    return np.add.reduceat(hashes, np.cumsum(lengths) - lengths)


def _redraw(sampler: Sampler, rng: np.random.Generator, drawn: Drawn, which: np.ndarray) -> Drawn:
    """`drawn` with the documents `which` drawn again from the same bases."""
    fresh = sampler.draw(rng, drawn.bases[which])
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    replacement = {int(i): k for k, i in enumerate(which.tolist())}
    begins, fresh_begins = drawn.begins, fresh.begins
    for i in range(len(drawn.lengths)):
        k = replacement.get(i)
        if k is None:
            b, n, d = begins[i], drawn.lengths[i], drawn
        else:
            b, n, d = fresh_begins[k], fresh.lengths[k], fresh
        parts.append((d.term_ids[b : b + n], d.weights[b : b + n], d.replaced[b : b + n]))
    return Drawn(
        drawn.bases,
        drawn.lengths,
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _finish(tmp, real, docs, seed, keep, shards, df, empty, postings, seconds) -> None:
    """df.json, the tokenizer and IDF table, then vectors.json (the folder is complete)."""
    vf.write_df(tmp, {real.terms[t]: int(n) for t, n in enumerate(df.tolist()) if n}, docs)
    if (real.folder / vf.TOKENIZER_DIR).is_dir():
        vf.copy_tokenizer(real.folder / vf.TOKENIZER_DIR, tmp / vf.TOKENIZER_DIR)
    if (real.folder / vf.IDF_FILE).is_file():
        shutil.copyfile(real.folder / vf.IDF_FILE, tmp / vf.IDF_FILE)
    meta = {
        key: value
        for key, value in real.meta.items()
        if key not in ("corpus", "corpus_sha256", "num_truncated", "num_skipped")
    }
    meta.update(
        format=vf.VECTORS_FORMAT,
        shards=shards,
        num_docs=docs,
        num_empty=empty,
        num_postings=postings,
        seconds=round(seconds, 3),
        docs_per_second=round(docs / seconds, 2) if seconds else 0.0,
        synthetic={
            "source": str(real.folder.resolve()),
            "source_num_docs": real.num_docs,
            "seed": seed,
            "keep": keep,
            "method": METHOD,
        },
        versions=md.software_versions(),
    )
    vf.write_vectors_meta(tmp, meta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("source", type=Path, help="a vectors folder made by `splade-lite encode`")
    parser.add_argument("--docs", type=int, required=True, help="number of documents to write")
    parser.add_argument("--out", type=Path, required=True, help="vectors folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=float, default=DEFAULT_KEEP, help="P(a base term stays)")
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE)
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier output")
    args = parser.parse_args(argv)
    from splade_lite.errors import BadValueError

    try:
        summary = synthesize(
            args.source,
            args.out,
            args.docs,
            args.seed,
            keep=args.keep,
            shard_size=args.shard_size,
            overwrite=args.overwrite,
            progress=True,
            log=lambda m: print(m, file=sys.stderr),
        )
    except (SynthesisError, BadValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
