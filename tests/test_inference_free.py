"""Document frequencies of token ids: one count per document, special tokens left out, cut
where the encoder cuts; the same counts ``splade-lite encode`` writes to df.json."""

from __future__ import annotations

import json
from collections import Counter

from training_helpers import DOCS, make_beir, make_tiny_model

from splade_lite.encoders.base import vocab_terms
from splade_lite.encoders.inference_free import count_document_frequencies
from splade_lite.encoders.models import load_tokenizer, resolve_model


def _tokenizer(folder):
    return load_tokenizer(resolve_model(make_tiny_model(folder)))


def test_each_document_counts_once_up_to_the_cut(tmp_path):
    tokenizer = _tokenizer(tmp_path / "m")
    ids = {t: i for i, t in enumerate(vocab_terms(tokenizer))}
    df: Counter[int] = Counter()
    # [CLS] bees bees moon [SEP]: 5 ids, none cut at 8; [CLS] moon tides [SEP]: 4
    assert count_document_frequencies(tokenizer, ["bees bees moon", "moon tides"], 8, df) == 0
    assert df == Counter({ids["bees"]: 1, ids["moon"]: 2, ids["tides"]: 1})
    # cut after 3 ids ([CLS] glaciers retreat | [SEP]): "rise" is not counted, one text cut
    assert count_document_frequencies(tokenizer, ["glaciers retreat rise"], 3, df) == 1
    assert df[ids["glaciers"]] == 1 and df[ids["retreat"]] == 1 and ids["rise"] not in df
    assert not set(df) & set(tokenizer.all_special_ids)
    assert count_document_frequencies(tokenizer, [], 8, df) == 0


def test_the_counts_of_encode(tmp_path):
    from splade_lite.encode import encode_corpus

    beir = make_beir(tmp_path / "beir")
    model = make_tiny_model(tmp_path / "m")
    summary = encode_corpus(
        beir / "corpus.jsonl", tmp_path / "v", model=model, max_length=8, progress=False
    )
    written = json.loads((tmp_path / "v" / "df.json").read_text(encoding="utf-8"))
    tokenizer = load_tokenizer(resolve_model(model))
    terms = vocab_terms(tokenizer)
    df: Counter[int] = Counter()
    texts = [f"{title} {text}" for title, text in DOCS.values()]
    cut = count_document_frequencies(tokenizer, texts, 8, df)
    assert written["num_docs"] == len(texts)
    assert written["df"] == {terms[i]: n for i, n in sorted(df.items())}
    assert cut == summary.num_truncated > 0
