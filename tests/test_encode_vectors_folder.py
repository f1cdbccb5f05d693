"""What ``encode`` keeps for the index besides the shards: the tokenizer, written whole or not
at all."""

from __future__ import annotations

import errno

import pytest

from splade_lite.encode import encode_corpus
from splade_lite.index_folder import load_index_tokenizer
from splade_lite.resume import is_unfinished


def test_encode_keeps_the_models_tokenizer(tiny_corpus, tmp_path, splade_tiny):
    out = tmp_path / "vectors"
    encode_corpus(tiny_corpus, out, encoder=splade_tiny, progress=False)
    kept = load_index_tokenizer(out)  # loaded as an index's, by tokenizer.json alone
    text = "Coffee contains caffeine; naïve café-goers"
    assert kept.tokenize(text) == splade_tiny.tokenizer.tokenize(text)
    assert len(kept) == len(splade_tiny.terms)
    assert not (out / "idf.json").exists()  # splade-tiny ships no query IDF table


def test_a_full_disk_while_saving_the_tokenizer_leaves_a_resumable_run(
    tiny_corpus, tmp_path, splade_tiny, monkeypatch
):
    from transformers import PreTrainedTokenizerBase

    def full_disk(self, folder, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder))

    out = tmp_path / "vectors"
    with monkeypatch.context() as patch:
        patch.setattr(PreTrainedTokenizerBase, "save_pretrained", full_disk)
        with pytest.raises(OSError, match="No space left on device"):
            encode_corpus(tiny_corpus, out, encoder=splade_tiny, progress=False)
    assert is_unfinished(out) and not (out / "vectors.json").exists()
    assert not [p.name for p in out.iterdir() if "tokenizer" in p.name]  # no half copy
    encode_corpus(tiny_corpus, out, encoder=splade_tiny, progress=False, resume=True)
    assert (out / "tokenizer" / "tokenizer.json").is_file() and not is_unfinished(out)
