"""A tiny randomly initialised BERT masked-LM and a small labelled corpus, for training tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCS = {
    "d1": ("Vitamin D", "vitamin d deficiency weakens bones in older adults"),
    "d2": ("Aurora", "the aurora borealis is caused by solar wind particles"),
    "d3": ("Sleep", "short sleep raises the risk of heart disease"),
    "d4": ("Python", "time sleep pauses the program for a number of seconds"),
    "d5": ("Coffee", "coffee contains caffeine a stimulant of the nervous system"),
    "d6": ("Volcano", "volcanic eruptions release ash and sulfur gases"),
    "d7": ("Insulin", "insulin lowers blood glucose after a meal"),
    "d8": ("Glaciers", "glaciers retreat as global temperatures rise"),
    "d9": ("Vaccines", "vaccines train the immune system against infection"),
    "d10": ("Bees", "bees pollinate flowers and crops in spring"),
    "d11": ("Tides", "ocean tides follow the pull of the moon"),
    "d12": ("Antibiotics", "antibiotics kill bacteria but not viruses"),
}
QUERIES = {
    "q1": ("weak bones vitamin", "d1"),
    "q2": ("what causes the aurora", "d2"),
    "q3": ("sleep and heart risk", "d3"),
    "q4": ("pause a program", "d4"),
    "q5": ("caffeine stimulant", "d5"),
    "q6": ("volcanic ash", "d6"),
    "q7": ("blood glucose", "d7"),
    "q8": ("glaciers retreat", "d8"),
    "q9": ("immune system infection", "d9"),
    "q10": ("pollinate crops", "d10"),
    "q11": ("moon tides", "d11"),
    "q12": ("kill bacteria", "d12"),
}
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def words() -> list[str]:
    text = " ".join(f"{t} {b}" for t, b in DOCS.values()) + " "
    text += " ".join(q for q, _ in QUERIES.values())
    return sorted(set(re.findall(r"\w+", text.lower())))


def make_tiny_model(folder: Path, seed: int = 0, hidden: int = 32) -> Path:
    """A 2-layer BERT masked-LM over a vocabulary of the test texts' words, saved in `folder`."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + words() + [f"extra{i}" for i in range(40)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    try:  # transformers 5 takes the vocabulary itself, 4.x a vocab.txt path
        tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)})
    except TypeError:
        tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    assert len(tokenizer) == len(vocab), "the test tokenizer did not take the vocabulary"
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,  # as BERT: encoders may default to 256 tokens
    )
    model = BertForMaskedLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_beir(folder: Path) -> Path:
    """DOCS and QUERIES as a BEIR folder with qrels/train.tsv."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, (text, _) in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, (_, d) in QUERIES.items()]
    (folder / "qrels" / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
