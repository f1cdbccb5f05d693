"""What Lucene, Anserini and Java can hold, checked in Python before any Java runs.

Anserini 1.7.1 indexes a JsonVectorCollection document by writing each token ``weight``
times, separated by spaces, into one Java string that Lucene's WhitespaceAnalyzer splits
again (so the term frequency is the weight). It reads JSON with Jackson 2.21 under its
default limits. What follows from that, and what each check here refuses early:

- a token longer than 255 UTF-16 units is silently cut into pieces by the tokenizer
  (``CharTokenizer``'s default maximum token length): its impact would land on other terms;
- a document id is a Lucene ``StringField`` term: at most 32,766 UTF-8 bytes
  (``IndexWriter.MAX_TERM_LENGTH``), else Anserini logs an error and drops the document;
- Jackson refuses a JSON string longer than 20,000,000 characters
  (``StreamReadConstraints.DEFAULT_MAX_STRING_LEN``) and an object key longer than 50,000;
- the repeated-token text of a document must fit a Java string and the JVM's heap; we cap it
  at 2^28 characters (``MAX_IMPACT_TEXT_CHARS``): building it takes about 2.5 bytes of heap
  per character on each indexing thread, and tokenizing it about a second per 40 million
  tokens. That also keeps the token count per field (an int in Lucene) and every impact far
  below 2^31;
- an index holds at most 2,147,483,519 documents (``IndexWriter.MAX_DOCS``).

Searching has its own limits, handled in :mod:`splade_lite.indexer.lucene`: k and the
thread count are capped (Java ints; at most the number of documents), and impact scores are
exact 64-bit integers whatever their size (see ``ImpactQuery.java``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from splade_lite.errors import BadValueError

#: Longest token Lucene's whitespace tokenizer keeps whole, in UTF-16 code units.
MAX_TOKEN_UTF16 = 255
#: Longest term Lucene indexes (a document id is one), in UTF-8 bytes.
MAX_TERM_BYTES = 32766
#: Longest JSON string and object key Anserini's Jackson parser reads, in characters.
MAX_JSON_STRING_CHARS = 20_000_000
MAX_JSON_KEY_CHARS = 50_000
#: Longest text Anserini may build from one document's weights (see the module docstring).
MAX_IMPACT_TEXT_CHARS = 2**28
#: Most documents one Lucene index holds.
MAX_DOCS = 2**31 - 1 - 128
#: Java's int, the type of k, thread counts and weights on the Java side.
JAVA_INT_MAX = 2**31 - 1
#: Clauses of one Lucene query, as splade-lite raises the JVM's limit (Lucene's default is
#: 1,024). Impact queries beyond it are scored without a BooleanQuery; a BM25 query is not.
MAX_QUERY_TERMS = 1 << 16


def utf16_units(text: str) -> int:
    """Length of `text` in Java chars (UTF-16 code units)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_bytes(text: str) -> int:
    """Length of `text` in UTF-8 bytes, as Java encodes it (a lone surrogate: 3 bytes)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def id_problem(docid: str) -> str | None:
    """Why Lucene cannot index `docid` as a term, or None."""
    if len(docid) * 4 <= MAX_TERM_BYTES:  # 4 bytes a character at most: certainly fits
        return None
    size = utf8_bytes(docid)
    if size > MAX_TERM_BYTES:
        return (
            f"id of {size} UTF-8 bytes: Lucene indexes ids of at most {MAX_TERM_BYTES} bytes "
            f"(starts {docid[:40]!r})"
        )
    return None


def string_problem(name: str, value: str) -> str | None:
    """Why Anserini's JSON reader refuses the string field `name`, or None."""
    if len(value) > MAX_JSON_STRING_CHARS // 2 and utf16_units(value) > MAX_JSON_STRING_CHARS:
        return (
            f"{name!r} of {utf16_units(value)} characters: Anserini's JSON reader takes at "
            f"most {MAX_JSON_STRING_CHARS}"
        )
    return None


def bm25_query_problem(text: str) -> str | None:
    """Why a BM25 query of `text` would pass Lucene's clause limit, or None.

    Counts distinct words as Lucene's analyzer would roughly split them (letters and digits);
    a text too short to hold that many words is passed at once.
    """
    if len(text) <= 2 * MAX_QUERY_TERMS:  # each word takes a character and a separator
        return None
    words = len(set(re.findall(r"\w+", text.lower())))
    if words <= MAX_QUERY_TERMS:
        return None
    return (
        f"{words} distinct words, more than the {MAX_QUERY_TERMS} terms a BM25 query may have "
        "in Lucene; shorten it"
    )


def vector_problem(vector: Mapping[str, int]) -> str | None:
    """Why Anserini cannot index this ``{token: weight}`` as it is, or None.

    Expects tokens already checked for whitespace and weights already positive ints.
    Costs two passes at C speed per document unless a token is long or the weights large.
    """
    if not vector:
        return None
    longest = max(map(len, vector))
    if longest * 2 > MAX_TOKEN_UTF16:  # only then can a token be over 255 UTF-16 units
        for token in vector:
            units = utf16_units(token)
            if units > MAX_TOKEN_UTF16:
                return (
                    f"token of {units} UTF-16 units (starts {token[:20]!r}): Lucene's tokenizer "
                    f"cuts tokens longer than {MAX_TOKEN_UTF16} into other terms"
                )
    total = sum(vector.values())
    if (2 * longest + 1) * total <= MAX_IMPACT_TEXT_CHARS:  # a quick upper bound of the text
        return None
    chars = sum((utf16_units(t) + 1) * w for t, w in vector.items())
    if chars > MAX_IMPACT_TEXT_CHARS:
        return (
            f"the weights sum to {total}: Anserini would index this document as a text of "
            f"{chars} characters (each token repeated weight times), more than the "
            f"{MAX_IMPACT_TEXT_CHARS} splade-lite allows (Java heap and time); encode with a "
            "smaller --scale"
        )
    return None


def _fields_problem(record: Mapping[str, Any]) -> str | None:
    """Why Anserini's Lucene or JSON reader refuses the id or a string field of `record`."""
    docid = record.get("id")
    problem = id_problem(docid) if isinstance(docid, str) else None
    for key, value in record.items():
        if problem:
            break
        if len(key) > MAX_JSON_KEY_CHARS:
            problem = f"a field name of {len(key)} characters (at most {MAX_JSON_KEY_CHARS})"
        elif isinstance(value, str):
            problem = string_problem(key, value)
    return problem


def record_problem(record: Mapping[str, Any]) -> str | None:
    """Why Anserini cannot take a checked vectors record ``{id, contents, vector}``, or None."""
    return _fields_problem(record) or vector_problem(record["vector"])


def json_line_problem(line: bytes) -> str | None:
    """Why Anserini's reader would refuse this JSONL line, looking only at long lines.

    A JSON line of at most 32,766 bytes can hold no id or string over the limits above (a
    character takes at least as many bytes in JSON as in UTF-8), so only longer lines are
    parsed. For the BM25 corpus, whose lines nothing else checks before Java.
    """
    if len(line) <= MAX_TERM_BYTES:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None  # Anserini's own error for it is clear enough
    if not isinstance(record, dict):
        return None
    problem = _fields_problem(record)
    docid = record.get("id")
    if problem and isinstance(docid, str) and len(docid) <= 200:
        problem = f"document {docid!r}: {problem}"  # the file may be a temporary copy
    return problem


#: Java search threads one call may start (each holds its own Lucene searcher state).
MAX_THREADS = 256


def check_threads(threads: int, work: int | None = None) -> int:
    """`threads` checked against :data:`MAX_THREADS`, and never more than `work` items."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise BadValueError(f"threads must be a whole number >= 1, got {threads!r}")
    if threads > MAX_THREADS:
        raise BadValueError(f"threads must be at most {MAX_THREADS}, got {threads}")
    return max(1, min(threads, work)) if work is not None else threads
