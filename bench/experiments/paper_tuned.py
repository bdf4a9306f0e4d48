"""
paper-tuned: the rest of the paper on the tuned grid's recipe, each method at its tuned lr (TUNED_LRS):
the released code's label pairing, its AMPLIFY head, Table 1 (n λ draws) and Table 6 (one block only).

    python -m bench.compare --preset minilm-paper-tuned --seeds 0 1 2     # the paper's three seeds first
    python -m bench.compare --preset minilm-paper-tuned --report-only

The AMPLIFY repository's baselines mix features with one permutation and labels with a fresh one
(`--label-perm independent`), and its AMPLIFY classifies a mean over positions while its baselines use BERT's
pooler. Its comparison is therefore "AMPLIFY, mean-pooled" against "baselines, pooler head, mismatched labels".
This experiment measures the two effects apart, on the tuned recipe (bench/experiments/tuned.py):
  label pairing  embedmix, sentmix, tmix, manifold with the released pairing, against the same methods as
                 described (the tuned grid's runs) and against AMPLIFY (reference-bug's tables);
  head           none and AMPLIFY with --pooling mean (ours: the mean over real tokens), against their pooler runs;
  paper's view   AMPLIFY mean-pooled against each baseline with the released pairing, beside AMPLIFY against
                 each baseline as described: the comparison the paper's code makes, and the fair one;
  Table 1        AMPLIFY with n ∈ {1, 3, 7, 9, 20} draws against n = 5;
  Table 6        AMPLIFY in one block only (the paper's 4, 8, 12 of 12 scaled to the depth) against every block.
A variant runs at its method's tuned lr for that dataset; the reference runs (each method as the tuned grid has
it) are the tuned grid's own, read in place (the preset's `--also-read`): run `minilm-tuned` for the same datasets and
seeds first, or they train into this grid's folder. Datasets whose cells TUNED_LRS has not decided are left out.
"""

from dataclasses import replace

from amplify.train import TrainConfig
from bench.experiments.common import by_dataset, relabel, versus_table
from bench.experiments.reference_bug import RELEASED, reference_bug_tables
from bench.experiments.registry import Experiment, GridSpec, register
from bench.experiments.table1 import N_DRAWS, table1_tables
from bench.experiments.table6 import block_variants, table6_tables
from bench.experiments.tuned import TUNED_LRS
from bench.report.claims import BASELINES  # the paper's four mixup baselines
from bench.report.tables import accuracy_table

NEEDED = ("none", *BASELINES, "amplify")  # the cells every part reads
MEAN = " (mean pool)"
DEFAULT = TrainConfig()


def decided(spec):
    return [d for d in spec.datasets if all((d, m) in TUNED_LRS for m in NEEDED)]


def paper_tuned_configs(spec):
    """Each part's runs, dataset by dataset, in the order that answers first what matters most: the reference
    runs, the released pairing, the head, Table 1, Table 6."""
    out = []
    for d in decided(spec):
        out += [cfg for m in NEEDED for cfg in _at(spec, d, m)]
        out += [cfg for m in BASELINES for cfg in _at(spec, d, m, label_perm="independent")]
        out += [cfg for m in ("none", "amplify") for cfg in _at(spec, d, m, pooling="mean")]
        out += [cfg for n in N_DRAWS if n != DEFAULT.n_draws for cfg in _at(spec, d, "amplify", n_draws=n)]
        out += [cfg for layers, _ in block_variants(spec.base) if layers
                for cfg in _at(spec, d, "amplify", amplify_layers=layers)]
    return out


def _at(spec, dataset, method, **change):
    """The method on the dataset at its tuned lr, seed by seed, with `change` applied."""
    return [replace(spec.base, dataset=dataset, method=method, lr=TUNED_LRS[dataset, method], seed=s, **change)
            for s in spec.seeds]


def variant(cfg):
    """Which setting of the defaults a run changes: "", "released", "mean", "n" or "block"."""
    if cfg.label_perm != DEFAULT.label_perm:
        return "released"
    if cfg.pooling != DEFAULT.pooling:
        return "mean"
    if cfg.n_draws != DEFAULT.n_draws:
        return "n"
    return "block" if cfg.amplify_layers is not None else ""


def label(cfg):
    return cfg.method + {"released": RELEASED, "mean": MEAN}.get(variant(cfg), "")


def paper_tuned_tables(records, spec, opts):
    datasets = decided(spec)
    waiting = [d for d in spec.datasets if d not in datasets]  # their lrs are not all decided yet
    spec = GridSpec(spec.base, tuple(datasets), NEEDED, spec.seeds)
    part = lambda *kinds: [(c, r) for c, r in records if variant(c) in ("", *kinds)]
    amplify = lambda *kinds: [(c, r) for c, r in part(*kinds) if c.method == "amplify"]
    tables = reference_bug_tables(part("released"), spec, opts)
    tables += head_tables(part("released", "mean"), datasets, opts)
    tables += table1_tables(amplify("n"), spec, opts)
    tables += table6_tables(amplify("block"), spec, opts)
    note = ("Each method at its tuned lr (bench/experiments/tuned.py): "
            + "; ".join(f"{d} " + ", ".join(f"{m} {TUNED_LRS[d, m]:g}" for m in NEEDED) for d in datasets) + ".")
    if waiting:
        note += (f" Not in this report: {', '.join(waiting)}, where TUNED_LRS has not yet decided every one of "
                 f"{', '.join(NEEDED)}.")
    for t in tables:
        t.notes.append(note)
    return tables


def head_tables(records, datasets, opts):
    """The head alone (mean pooling against the pooler, for none and AMPLIFY) and the paper's comparison."""
    labels = ["none", "none" + MEAN, "amplify", "amplify" + MEAN]
    acc = relabel(accuracy_table([r for r in records if label(r[0]) in labels], labels, datasets, row=label),
                  "head", "The head: mean pooling (over real tokens) against BERT's pooler", "method (head)")
    pairs = [("none" + MEAN, "none"), ("amplify" + MEAN, "amplify")]
    pairs += [(a, m + p) for m in BASELINES for p, a in (("", "amplify"), (RELEASED, "amplify" + MEAN))]
    sig = versus_table(records, pairs, datasets, label, by_dataset, name="head-significance",
                       title="The head alone, and AMPLIFY against each baseline as the paper's code compares them "
                             "(mean-pooled AMPLIFY vs released-pairing baselines) and as described",
                       alpha=opts.alpha, resampling=opts.resampling)
    return [acc, sig]


register(Experiment("paper-tuned", "on the tuned recipe: the baselines' released label pairing, mean pooling, "
                    "Table 1 (n draws) and Table 6 (one block), each against its reference run",
                    paper_tuned_configs, paper_tuned_tables))
