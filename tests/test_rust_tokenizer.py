"""The tokenizer read from tokenizer.json alone agrees with transformers' on everything used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from splade_lite.encoders.rust_tokenizer import RustTokenizer

TEXTS = [
    "Vitamin D deficiency weakens bones in older adults.",
    "[CLS] what [MASK] is this [SEP] [PAD] [UNK]",
    "Café naïve résumé 東京 🙂 IL-6's",
    "",
    "x" * 150,
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, splade_tiny):
    out = tmp_path_factory.mktemp("tok")
    splade_tiny.tokenizer.save_pretrained(str(out))  # what an index keeps in tokenizer/
    return out


def test_same_as_transformers(folder):
    from transformers import AutoTokenizer

    theirs = AutoTokenizer.from_pretrained(str(folder))
    ours = RustTokenizer(folder)
    assert RustTokenizer.available(folder)
    assert ours.all_special_ids == sorted(theirs.all_special_ids)
    assert len(ours) == len(theirs)
    ids = list(range(len(theirs)))
    assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
    for special in (False, True):
        got = ours(TEXTS, add_special_tokens=special)["input_ids"]
        assert got == theirs(TEXTS, add_special_tokens=special)["input_ids"]
    for text in TEXTS:
        assert ours.tokenize(text) == theirs.tokenize(text)


@pytest.mark.jvm
def test_inference_free_search_never_imports_torch(tmp_path, tiny_corpus):
    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index

    encode_corpus(tiny_corpus, tmp_path / "v", mode="inference-free", progress=False)
    build_index(tmp_path / "v", tmp_path / "i")
    code = (
        "import sys; from splade_lite.search import Searcher; "
        f"s = Searcher({str(tmp_path / 'i')!r}); hits = s.search('coffee and sleep', k=3); "
        "s.explain('coffee and sleep', hits[0].docid); "
        "print(len(hits), 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "False", "False"]
