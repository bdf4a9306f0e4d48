"""
table6: AMPLIFY in one block only (the paper's 4th, 8th, 12th of 12, scaled to the model's depth) vs every
block (paper Table 6).

    python -m bench.compare --experiment table6 --datasets trec-fine sst-2 --seeds 0 1 2 --model minilm-l6

Reference row: every block, AMPLIFY's default.

Reference: Yang & Xiang 2024, "AMPLIFY: Attention-based Mixup for Performance Improvement and Label Smoothing
in Transformer", PeerJ Computer Science (arXiv 2309.12689), Table 6.
"""

import json
from dataclasses import replace
from pathlib import Path

from amplify.methods import scale_layer
from bench.experiments.common import by_dataset, relabel, versus_table
from bench.experiments.registry import Experiment, register
from bench.report.tables import accuracy_table

PAPER_BLOCKS = (4, 8, 12)  # paper Table 6, of 12 blocks
MODEL_DEPTH = {"bert-base-uncased": 12, "minilm-l6": 6}  # "tiny": model.bert.tiny_config()


def model_depth(cfg):
    """Blocks of the run's backbone, known before any weights are loaded (table6 needs it to name its runs)."""
    if cfg.weights:
        path = Path(cfg.weights) / "config.json"
        try:
            return int(json.loads(path.read_text())["num_hidden_layers"])
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"table6 needs the model's depth: cannot read num_hidden_layers from {path} ({e})") from e
    if cfg.model == "tiny":
        from model.bert import tiny_config

        return tiny_config().num_hidden_layers
    return MODEL_DEPTH[cfg.model]


def block_variants(cfg):
    """[(amplify_layers, label)]: every block, then each of the paper's blocks scaled to this depth (blocks
    that coincide on a shallow model are run once, and their label names every paper block they stand for)."""
    depth = model_depth(cfg)
    scaled = {}
    for k in PAPER_BLOCKS:
        scaled.setdefault(scale_layer(k, depth), []).append(k)
    out = [(None, f"all {depth} blocks")]
    for b, ks in scaled.items():
        paper = ", ".join(f"{k}th" for k in ks) + " of 12"
        out.append(([b], f"block {b} of {depth}" if depth == 12 else f"block {b} of {depth} (paper: {paper})"))
    return out


def table6_configs(spec):
    base = replace(spec.base, method="amplify")
    return [replace(base, dataset=d, amplify_layers=layers, seed=s)
            for d in spec.datasets for layers, _ in block_variants(spec.base) for s in spec.seeds]


def table6_tables(records, spec, opts):
    variants = block_variants(spec.base)
    names = {None if layers is None else tuple(layers): label for layers, label in variants}
    row = lambda c: names[None if c.amplify_layers is None else tuple(c.amplify_layers)]
    labels = [label for _, label in variants]
    acc = relabel(accuracy_table(records, labels, spec.datasets, baseline=labels[0], row=row), "table6",
                  "Table 6: AMPLIFY mixing in one block only vs in every block", "AMPLIFY mixes in")
    acc.notes.append("A paper block k of 12 runs at round-half-up(k·L/12) of this model's L blocks "
                     "(amplify/methods.py scale_layer), as TMix's blocks do.")
    sig = versus_table(records, [(x, labels[0]) for x in labels[1:]], spec.datasets, row, by_dataset,
                       name="table6-significance", title="Table 6: each single block against every block",
                       alpha=opts.alpha, resampling=opts.resampling)
    return [acc, sig]


register(Experiment("table6", "AMPLIFY in the paper's block 4, 8 or 12 only (scaled to the depth) vs every block "
                    "(paper Table 6)", table6_configs, table6_tables))
