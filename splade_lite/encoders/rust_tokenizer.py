"""A tokenizer read from ``tokenizer.json`` alone, for inference-free queries.

transformers' ``AutoTokenizer`` imports torch, which costs a command-line search about two
seconds before the first query, for a mode whose point is that queries need no model. The
tokenizer an index keeps (``tokenizer/``) has a ``tokenizer.json``, which the ``tokenizers``
library runs as it is; this class offers the few parts of a transformers fast tokenizer that
query encoding and explanations use, with the same results (tested against transformers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from splade_lite.errors import BadValueError

_SPECIAL_KEYS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


class RustTokenizer:
    """``tokenizer.json`` (plus the special-token files beside it) through ``tokenizers``."""

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        try:
            self._load(folder)
        except Exception as err:  # tokenizers raises plain Exceptions for a bad file
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise BadValueError(
                f"{folder}: not a readable tokenizer ({first}); rebuild the index"
            ) from None

    def _load(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.backend_tokenizer.no_truncation()
        self.backend_tokenizer.no_padding()
        spec = json.loads(self.backend_tokenizer.to_str())
        special = {t["id"] for t in spec.get("added_tokens") or [] if t.get("special")}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            path = folder / name
            if not path.is_file():
                continue
            config = json.loads(path.read_text(encoding="utf-8"))
            named = [config.get(key) for key in _SPECIAL_KEYS]
            named += config.get("additional_special_tokens") or []
            named += config.get("extra_special_tokens") or []
            for token in named:
                content = token.get("content") if isinstance(token, dict) else token
                token_id = self.backend_tokenizer.token_to_id(content) if content else None
                if token_id is not None:
                    special.add(token_id)
        self.all_special_ids = sorted(special)

    @classmethod
    def available(cls, folder: str | Path) -> bool:
        return (Path(folder) / "tokenizer.json").is_file()

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.backend_tokenizer.id_to_token(i) or "" for i in ids]

    def __call__(self, texts: Sequence[str], add_special_tokens: bool = True) -> dict:
        batch = self.backend_tokenizer.encode_batch(
            list(texts), add_special_tokens=add_special_tokens
        )
        return {"input_ids": [e.ids for e in batch]}

    def tokenize(self, text: str) -> list[str]:
        return self.backend_tokenizer.encode(text, add_special_tokens=False).tokens
