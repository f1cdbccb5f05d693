"""Weight-space interpolation of an adapted model with its starting point (WiSE-FT).

Wortsman et al. (2022, "Robust fine-tuning of zero-shot models") average the weights of a
fine-tuned model with those of the model it started from; the mixture often keeps the
fine-tuned gains where they exist and the starting model's robustness elsewhere. Here the
adapted folder (``splade-lite adapt``) is copied to ``--out`` with every floating-point
weight replaced by ``alpha * adapted + (1 - alpha) * base`` (same names and shapes).

    python benchmarks/interpolate_model.py --adapted runs/adapt/RUN --alpha 0.5 --out DIR
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--adapted", type=Path, required=True)
    parser.add_argument("--base", default="splade-tiny")
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from safetensors.torch import load_file, save_file

    from splade_lite.encoders.models import resolve_model

    reference = load_file(str(Path(resolve_model(args.base).mlm) / "model.safetensors"))
    adapted = load_file(str(args.adapted / "model.safetensors"))
    mixed = {}
    for name, tensor in adapted.items():
        if name not in reference or reference[name].shape != tensor.shape:
            raise SystemExit(f"{name}: not in the base model with the same shape")
        if tensor.is_floating_point():
            tensor = args.alpha * tensor + (1 - args.alpha) * reference[name].to(tensor.dtype)
        mixed[name] = tensor.contiguous()
    args.out.mkdir(parents=True, exist_ok=False)
    for item in args.adapted.iterdir():
        if item.is_file() and item.name != "model.safetensors":
            shutil.copy2(item, args.out / item.name)
    save_file(mixed, str(args.out / "model.safetensors"), metadata={"format": "pt"})
    print(f"{args.out}: alpha {args.alpha}, {len(mixed)} tensors")


if __name__ == "__main__":
    main()
