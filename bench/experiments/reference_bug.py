"""
reference-bug: the baselines trained with their released code's label pairing vs as described (method.md).

    python -m bench.compare --experiment reference-bug --preset reduced

Reference rows: each baseline as described; amplify against each baseline under both pairings.
"""

from dataclasses import replace

from bench.experiments.common import by_dataset, relabel, versus_table
from bench.experiments.registry import Experiment, register
from bench.report.tables import accuracy_table

RELEASED = " (released pairing)"


def baselines_of(methods):
    return [m for m in methods if m not in ("none", "amplify")]


def reference_bug_configs(spec):
    if not baselines_of(spec.methods):
        raise ValueError("reference-bug compares the baselines' two label pairings: give --methods with at least "
                         "one of embedmix, sentmix, tmix, manifold")
    out = []
    for d in spec.datasets:
        for m in spec.methods:
            perms = ("same", "independent") if m in baselines_of(spec.methods) else ("same",)
            out += [replace(spec.base, dataset=d, method=m, label_perm=p, seed=s) for p in perms for s in spec.seeds]
    return out


def perm_label(cfg):
    return cfg.method + (RELEASED if cfg.label_perm == "independent" else "")


def reference_bug_tables(records, spec, opts):
    bases = baselines_of(spec.methods)
    labels = [x for m in spec.methods for x in ((m, m + RELEASED) if m in bases else (m,))]
    acc = relabel(accuracy_table(records, labels, spec.datasets, row=perm_label), "reference-bug",
                  "Released-code label pairing: each baseline as described vs with its released code's pairing",
                  "method (label pairing)")
    acc.notes.append("released pairing (--label-perm independent): the second loss term's labels come from a fresh "
                     "permutation, not the one that mixed the features (docs/method.md). AMPLIFY and none: as "
                     "described only.")
    pairs = [(m + RELEASED, m) for m in bases]
    if "amplify" in spec.methods:
        pairs += [("amplify", x) for m in bases for x in (m, m + RELEASED)]
    sig = versus_table(records, pairs, spec.datasets, perm_label, by_dataset, name="reference-bug-significance",
                       title="Does the released pairing change a baseline's accuracy, and AMPLIFY's lead over it?",
                       alpha=opts.alpha, resampling=opts.resampling)
    return [acc, sig]


register(Experiment("reference-bug", "each baseline with its released code's label pairing (--label-perm "
                    "independent) vs as described", reference_bug_configs, reference_bug_tables))
