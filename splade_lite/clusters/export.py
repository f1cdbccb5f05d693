"""Index -> a folder a search cluster loads: its index or collection body, bulk files, the
query side, and ``export.json``, which lists them (see :mod:`splade_lite.clusters.layout`).

Written like every splade-lite output (:mod:`splade_lite.outputs`): in a staging folder beside
the output, renamed onto it when complete; ``overwrite`` replaces only an earlier cluster
export holding nothing but what its manifest lists.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splade_lite import metadata as md
from splade_lite.atomic import atomic_write
from splade_lite.clusters import layout
from splade_lite.clusters.common import ClusterError, IndexSource, Settings, check_name
from splade_lite.errors import BadValueError

#: Documents per bulk file.
DEFAULT_SHARD_SIZE = 100_000
#: Hits asked for in the query bodies.
DEFAULT_K = 10
#: The fixed date of the files in ``sparse-tokenizer.zip``, so that one export gives one zip.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def target_module(target: str):
    """The module that shapes `target`'s bodies and loads them (:data:`layout.TARGETS`)."""
    if target not in layout.TARGETS:
        raise BadValueError(f"unknown target {target!r}; choose one of {', '.join(layout.TARGETS)}")
    return importlib.import_module(f"splade_lite.clusters.{target}")


def default_name(index_dir: Path) -> str:
    """The index or collection name an export gets by default: the index folder's name,
    lowercased, anything but letters, digits, ``-`` and ``_`` made ``-``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", Path(index_dir).resolve().name.lower()).strip("-_")
    return name or "splade-lite"


def check_field(field: str) -> str:
    """A vector field name every target takes (no dot: a dot means a sub-field there)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", field or "") or field in (
        "title", "text", "docid",
    ):  # fmt: skip
        raise BadValueError(
            f"field {field!r}: use letters, digits, '-' and '_' (no dot), and not title, text "
            "or docid, which hold the document's text"
        )
    return field


def export_cluster(
    index_dir: str | Path,
    out_dir: str | Path,
    target: str,
    *,
    name: str | None = None,
    field: str = "splade",
    queries: str | Path | None = None,
    k: int = DEFAULT_K,
    modifier: str = "none",
    compress: bool = False,
    shard_size: int = DEFAULT_SHARD_SIZE,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write an index for `target` (``opensearch``, ``elasticsearch`` or ``qdrant``) into
    `out_dir`; returns the manifest (``export.json``).

    `name`: the index or collection (default: from the index folder's name); `field`: the
    vector field; `queries`: a queries file whose texts get ready-made request bodies in
    ``queries.jsonl`` (top `k`); `modifier`: Qdrant's ``none`` or ``idf`` (inference-free
    indexes only; see :mod:`splade_lite.clusters.qdrant`); `compress`: gzipped bulk files;
    `shard_size`: documents per bulk file.
    """
    from splade_lite.outputs import CLUSTER, claim_output
    from splade_lite.shards import ShardWriter

    say = log or (lambda _msg: None)
    module = target_module(target)
    index_dir, out = Path(index_dir), Path(out_dir)
    source = IndexSource(index_dir)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadValueError(f"k must be a whole number >= 1, got {k!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise BadValueError(f"shard_size must be a whole number >= 1, got {shard_size!r}")
    _check_modifier(target, modifier, source)
    settings = Settings(
        target=target,
        name=check_name(name if name is not None else default_name(index_dir), "name"),
        field=check_field(field),
        modifier=modifier,
        term_ids=source.term_ids if target == "qdrant" else {},
    )
    asked = _read_queries(queries)
    claim = claim_output(out, CLUSTER, inputs=(index_dir, queries), overwrite=overwrite)
    tmp = claim.stage()
    try:
        files: list[str] = []

        def write_json(relative: str, data: Any) -> None:
            (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
            md.write_json(tmp / relative, data)
            files.append(relative)

        config_file = layout.CONFIG_FILES[target]
        write_json(config_file, module.config(settings, source.has_text))
        say(f"writing the {source.num_docs} documents of {index_dir} for {target}")
        (tmp / layout.BULK_DIR).mkdir()
        count = empty = 0
        with ShardWriter(tmp / layout.BULK_DIR, shard_size, ".gz" if compress else "") as writer:
            for doc in source.documents():
                writer.write(module.bulk_record(doc, count, settings, source.has_text))
                count += 1
                empty += not doc.weights
        if count != source.num_docs:
            raise ClusterError(
                f"exported {count} documents but {index_dir} records {source.num_docs}"
            )
        bulk = [
            {"file": f"{layout.BULK_DIR}/{n}", "docs": min(shard_size, count - i * shard_size)}
            for i, n in enumerate(writer.names)
        ]
        files += [b["file"] for b in bulk]
        query = _write_query_side(tmp, source, module, settings, asked, k, write_json, files)
        manifest = {
            "format": layout.CLUSTER_FORMAT,
            "format_version": layout.FORMAT_VERSION,
            "target": target,
            "name": settings.name,
            "field": settings.field,
            "field_type": getattr(module, "FIELD_TYPE", "sparse vector"),
            "config": config_file,
            "bulk": bulk,
            "num_docs": count,
            "num_empty": empty,
            "empty_documents": _EMPTY[target],
            "weights": f"float: the integer impact / {source.scale:g} (the index's scale)",
            "feature_names": _NAMES[target],
            "query": query,
            "settings": {"modifier": modifier, "gzip": compress, "shard_size": shard_size, "k": k},
            "index": source.describe(),
            "files": sorted(files),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": md.software_versions(),
        }
        md.write_json(tmp / layout.CLUSTER_MARKER, manifest)  # last: the folder is complete
        claim.commit(tmp)
    except BaseException:
        claim.abandon(tmp)
        raise
    say(f"exported {count} documents ({empty} empty) for {target} to {out}")
    return manifest


_EMPTY = {
    "opensearch": "indexed without the vector field: counted, never matched",
    "elasticsearch": "indexed without the vector field: counted, never matched",
    "qdrant": "a point without a vector (its payload only): counted, never found",
}
_NAMES = {
    "opensearch": "the index terms as they are",
    "elasticsearch": "the index terms with '%' written '%25' and '.' written '%2E' (Elasticsearch "
    "refused dots in feature names before 8.16); queries escape their tokens the same way",
    "qdrant": "indices: the tokenizer's id of each index term (queries use the same ids)",
}


def _check_modifier(target: str, modifier: str, source: IndexSource) -> None:
    from splade_lite.clusters.qdrant import MODIFIERS

    if modifier not in MODIFIERS:
        raise BadValueError(f"unknown modifier {modifier!r}; choose one of {', '.join(MODIFIERS)}")
    if modifier != "none" and target != "qdrant":
        raise BadValueError("a modifier is Qdrant's: --qdrant-modifier needs --format qdrant")
    if modifier == "idf" and source.mode != "inference-free":
        raise BadValueError(
            f"{source.index_dir} answers SPLADE queries, whose learned weights are no IDF: "
            "Qdrant's idf modifier applies to inference-free indexes only"
        )


def _read_queries(queries: str | Path | None) -> list[tuple[str, str]]:
    if queries is None:
        return []
    from splade_lite.trec import read_queries

    return [(q.id, q.text) for q in read_queries(queries)]


def _write_query_side(
    tmp: Path,
    source: IndexSource,
    module: Any,
    settings: Settings,
    asked: list[tuple[str, str]],
    k: int,
    write_json: Callable[[str, Any], None],
    files: list[str],
) -> dict[str, Any]:
    """``query.json`` (the request and its body with the weights left out), the IDF table
    and tokenizer of an inference-free index, and ``queries.jsonl`` for the queries asked."""
    weights_at = module.weights_at(settings)
    template = module.query_body({}, settings, k)
    _put(template, weights_at, "{{weights}}" if settings.target != "qdrant" else {
        "indices": "{{indices}}", "values": "{{values}}"
    })  # fmt: skip
    query: dict[str, Any] = {
        "target": settings.target,
        "request": module.request(settings),
        "body": template,
        "weights_at": weights_at,
        "mode": source.mode,
        "model": source.meta.get("model"),
        "scale": source.scale,
        "how": _HOW[source.mode],
    }
    files_out: dict[str, Any] = {"file": layout.QUERY_FILE, "queries": None, "idf": None}
    if source.mode == "inference-free":
        idf = source.idf_table()
        write_json(f"{layout.QUERY_DIR}/idf.json", idf)
        files_out["idf"] = f"{layout.QUERY_DIR}/idf.json"
        tokenizer_dir = source.index_dir / md.TOKENIZER_DIR
        kept = sorted(p for p in tokenizer_dir.iterdir() if p.is_file())
        for path in kept:
            target = tmp / layout.QUERY_DIR / "tokenizer" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
            files.append(f"{layout.QUERY_DIR}/tokenizer/{path.name}")
        if settings.target == "opensearch" and (tokenizer_dir / "tokenizer.json").is_file():
            files_out["sparse_tokenizer_zip"] = _write_zip(tmp, tokenizer_dir, idf, files)
    if asked:
        found = source.query_weights([text for _, text in asked])
        with atomic_write(tmp / layout.QUERIES_FILE) as handle:
            for (qid, text), weights in zip(asked, found):
                body = module.query_body(weights, settings, k) if weights else None
                record = {"qid": qid, "text": text, "body": body}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        files.append(layout.QUERIES_FILE)
        files_out["queries"] = layout.QUERIES_FILE
        first = next(((t, w) for (_, t), w in zip(asked, found) if w), None)
        if first is not None:
            query["example"] = {"text": first[0], "body": module.query_body(first[1], settings, k)}
    write_json(layout.QUERY_FILE, query)
    return {**files_out, "num_queries": len(asked)}


_HOW = {
    "inference-free": "distinct tokens of the query text (the index's tokenizer, no special "
    "tokens), each weighted by its IDF as splade-lite searches with it: query/idf.json; "
    "tokens missing there are left out",
    "splade": "the SPLADE model's query vector (the model named here), each weight rounded "
    "at the scale as splade-lite does, then divided by it: "
    "splade_lite.clusters.query_bodies(INDEX, EXPORT, texts) makes them",
}


def _put(body: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        body = body[key]
    body[path[-1]] = value


def _write_zip(tmp: Path, tokenizer_dir: Path, idf: dict[str, float], files: list[str]) -> dict:
    """``query/sparse-tokenizer.zip``: tokenizer.json and idf.json, the files an OpenSearch
    sparse tokenizer model (function SPARSE_TOKENIZE) is registered from."""
    relative = f"{layout.QUERY_DIR}/sparse-tokenizer.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in (
            ("tokenizer.json", (tokenizer_dir / "tokenizer.json").read_bytes()),
            ("idf.json", json.dumps(idf, ensure_ascii=False).encode("utf-8")),
        ):
            archive.writestr(zipfile.ZipInfo(member, _ZIP_DATE), data, zipfile.ZIP_DEFLATED)
    content = buffer.getvalue()
    with atomic_write(tmp / relative, "wb") as handle:
        handle.write(content)
    files.append(relative)
    return {"file": relative, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def query_bodies(
    index_dir: str | Path, export_dir: str | Path, texts: list[str], k: int | None = None
) -> list[dict[str, Any] | None]:
    """The search request body, for the cluster `export_dir` was made for, of each text:
    weighted as the index `index_dir` (the one exported) weighs its queries, top `k` (default:
    the export's). A blank text, or one left without a term, gets None (it matches nothing)."""
    manifest = layout.read_manifest(export_dir)
    source = IndexSource(index_dir)
    recorded = manifest.get("index") or {}
    for key in ("model_sha256", "mode", "scale", "num_docs"):
        if recorded.get(key) != source.describe().get(key):
            raise BadValueError(
                f"{export_dir} was not exported from {index_dir}: its {key} is "
                f"{recorded.get(key)!r}, the index's {source.describe().get(key)!r}"
            )
    module = target_module(manifest["target"])
    settings = Settings(
        target=manifest["target"],
        name=manifest["name"],
        field=manifest["field"],
        modifier=manifest["settings"]["modifier"],
        term_ids=source.term_ids if manifest["target"] == "qdrant" else {},
    )
    k = k if k is not None else manifest["settings"]["k"]
    found = source.query_weights(list(texts))
    return [module.query_body(w, settings, k) if w else None for w in found]
