"""
Few-label splits: K labelled examples per class for training, and a dev set drawn the same way.

    ds = load_dataset("trec-coarse")
    few, record = few_shot(ds, shots=10, seed=0)   # train 60, dev 60, test: the full official 500

    python -m data.fewshot --shots 10 --seed 0 1 2 3 4 --datasets trec-coarse   # the class counts of each draw

The rule. For split s in (train, dev) of load_dataset(dataset) (dev is what load_dataset gives: the official
dev split, or its fixed hold-out of train, data/load.py) and each class c, the examples of class c in s are
ranked by sha256(f"fewshot:{seed}:{dataset}:{s}:{i}"), i = the example's position in that split's list, and
the first K are kept (all of them when c has fewer than K). The kept examples stay in the split's order.
Test is never sampled: it stays the full official test set.
  - It depends on nothing but (dataset, K, seed, the data): no global RNG, no numpy stream that a new numpy
    may change (data/common.py says why the dev hold-out is hashed too).
  - Seeds 0-4 are five different draws. The training seed is the split seed: every method sees the same
    examples for the same seed, so comparisons between methods stay paired.
  - K is not in the hash, so draws are nested: for one seed, the K=10 draw of a class is the first 10 of its
    K=100 draw, and the two regimes differ in the amount of data only.

The record says what a run trained on; amplify/train.py stores it in the result (result["data"]["fewshot"]):
  shots, seed, rule      the draw
  counts, available      per split, examples kept per class id, and how many the split had (test: all kept)
  indices                per split, the positions kept (in load_dataset's lists)
  sha256                 per split, sha256 of the JSON list of the kept [index, label, text, text_b]: equal
                         hashes mean the same examples, whatever the file paths
  empty                  per split, the classes with no example at all (a class absent from the split);
                         `warnings` says each one in words, and the CLI and train() print them
"""

import argparse
import hashlib
import json
import sys
from collections import Counter

from data.common import DATA_DIR_HELP, DataFormatError, DataMissingError
from data.load import Dataset, load_dataset
from data.sources import DATASETS

RULE = ("per split (train, dev) and class: the K examples with the smallest sha256('fewshot:<seed>:<dataset>:"
        "<split>:<index>'), all of them if fewer (data/fewshot.py); test: the full official split")
SAMPLED = ("train", "dev")


def check_shots(shots):
    """K must be a positive count; the message names the option, for every front end."""
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ValueError(f"--shots must be an integer >= 1 (got {shots}): it is K, the labelled examples per class")


def rank_key(seed, dataset, split, index):
    return hashlib.sha256(f"fewshot:{seed}:{dataset}:{split}:{index}".encode()).digest()


def draw(examples, shots, seed, dataset, split):
    """Positions of the kept examples, in increasing order: the first `shots` of each class by rank_key."""
    by_class = {}
    for i, e in enumerate(examples):
        by_class.setdefault(e.label, []).append(i)
    kept = []
    for idx in by_class.values():
        kept += sorted(idx, key=lambda i: rank_key(seed, dataset, split, i))[:shots]
    return sorted(kept)


def examples_sha256(examples, indices):
    rows = [[i, examples[i].label, examples[i].text, examples[i].text_b] for i in indices]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def label_counts(examples, num_labels):
    c = Counter(e.label for e in examples)
    return [c[i] for i in range(num_labels)]


def few_shot(ds, shots, seed):
    """(a Dataset with K examples per class in train and dev and the full test, the record). ValueError for a K
    below 1, or one at least as large as every class of train (that would be the full training set)."""
    check_shots(shots)
    available = {s: label_counts(x, ds.num_labels) for s, x in ds.splits().items()}
    largest = max(available["train"])
    if shots >= largest:
        raise ValueError(f"--shots {shots} is the full training set of {ds.name}: its largest class has {largest} "
                         f"examples, so every class keeps all of them; use --shots below {largest}, or leave "
                         "--shots out to train on the full data")
    kept = {s: draw(getattr(ds, s), shots, seed, ds.name, s) for s in SAMPLED}
    train, dev = ([getattr(ds, s)[i] for i in kept[s]] for s in SAMPLED)
    out = Dataset(ds.name, train, dev, list(ds.test), list(ds.label_names), ds.is_pair, ds.info)
    empty = {s: [ds.label_names[c] for c, n in enumerate(available[s]) if n == 0] for s in SAMPLED}
    record = {
        "shots": shots, "seed": seed, "rule": RULE,
        "counts": {s: label_counts(x, ds.num_labels) for s, x in out.splits().items()},
        "available": available,
        "indices": kept,
        "sha256": {s: examples_sha256(getattr(ds, s), kept[s]) for s in SAMPLED},
        "empty": empty,
        "warnings": [f"{ds.name} {s} has no example of class {name!r}, so its {shots}-shot {s} split has none "
                     f"either" + (" (its dev accuracy cannot see this class)" if s == "dev" else "")
                     for s in SAMPLED for name in empty[s]],
    }
    return out, record


# ---------------------------------------------------------------------------------------------------
# python -m data.fewshot


def table(ds, record):
    """One line per class: kept / available in train and dev, and test's count."""
    c, a = record["counts"], record["available"]
    width = max(len("class"), *(len(n) for n in ds.label_names))
    lines = [f"{'class':{width}s}  {'train':>11s}  {'dev':>11s}  {'test':>5s}"]
    for i, name in enumerate(ds.label_names):
        lines.append(f"{name:{width}s}  {c['train'][i]:>4d} of {a['train'][i]:<4d}  {c['dev'][i]:>4d} of "
                     f"{a['dev'][i]:<4d}  {c['test'][i]:>5d}")
    lines.append(f"{'all':{width}s}  {sum(c['train']):>4d} of {sum(a['train']):<4d}  {sum(c['dev']):>4d} of "
                 f"{sum(a['dev']):<4d}  {sum(c['test']):>5d}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m data.fewshot",
                                 description="Print the class counts (kept of available, per split) and the sha256 "
                                             "of K-shot draws; the rule is in data/fewshot.py's docstring.")
    ap.add_argument("--shots", type=int, required=True, metavar="K", help="labelled examples per class (>= 1)")
    ap.add_argument("--seed", type=int, nargs="+", default=[0], metavar="S",
                    help="one draw per seed (default 0; a grid's seeds 0-4 are its five draws)")
    ap.add_argument("--datasets", nargs="+", choices=DATASETS, default=["trec-coarse"], metavar="NAME",
                    help=f"(default trec-coarse; any of {', '.join(DATASETS)})")
    ap.add_argument("--data-dir", default=None, help=f"datasets root ({DATA_DIR_HELP})")
    args = ap.parse_args(argv)
    try:
        check_shots(args.shots)  # before any data is read
        for name in args.datasets:
            ds = load_dataset(name, args.data_dir)
            for seed in args.seed:
                few, record = few_shot(ds, args.shots, seed)
                print(f"{name}, K = {args.shots}, seed {seed}: train {len(few.train)}, dev {len(few.dev)}, "
                      f"test {len(few.test)} (full)")
                print(table(ds, record))
                print("sha256 " + ", ".join(f"{s} {h}" for s, h in record["sha256"].items()) + "\n")
                for w in record["warnings"]:
                    print(f"warning: {w}", file=sys.stderr)
    except (ValueError, DataMissingError, DataFormatError) as e:
        ap.exit(2, f"{ap.prog}: error: {e}\n")
    return 0


if __name__ == "__main__":
    from data.common import entry

    entry(main)
