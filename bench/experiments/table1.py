"""
table1: AMPLIFY with n ∈ {1, 3, 5, 7, 9, 20} λ draws (paper Table 1).

    python -m bench.compare --experiment table1 --preset paper     # bert-base, 7 datasets, 3 seeds: a GPU job

Reference row: n = 5, AMPLIFY's default. The question is "does n matter?", answered against the setting the
other tables use; "does AMPLIFY beat none?" is table2's.

Reference: Yang & Xiang 2024, "AMPLIFY: Attention-based Mixup for Performance Improvement and Label Smoothing
in Transformer", PeerJ Computer Science (arXiv 2309.12689), Table 1.
"""

from dataclasses import replace

from bench.experiments.common import by_dataset, relabel, versus_table
from bench.experiments.registry import Experiment, register
from bench.report.tables import accuracy_table

N_DRAWS = (1, 3, 5, 7, 9, 20)  # paper Table 1


def n_label(cfg):
    return f"n={cfg.n_draws}"


def table1_configs(spec):
    base = replace(spec.base, method="amplify", amplify_layers=None)
    return [replace(base, dataset=d, n_draws=n, seed=s) for d in spec.datasets for n in N_DRAWS for s in spec.seeds]


def table1_tables(records, spec, opts):
    labels = [f"n={n}" for n in N_DRAWS]
    acc = relabel(accuracy_table(records, labels, spec.datasets, baseline="n=5", row=n_label), "table1",
                  "Table 1: AMPLIFY's test accuracy by the number n of λ draws (λ = max of n Beta(α, α) draws)",
                  "λ draws")
    sig = versus_table(records, [(x, "n=5") for x in labels if x != "n=5"], spec.datasets, n_label, by_dataset,
                       name="table1-significance", title="Table 1: each n against n = 5 (the paper's default)",
                       alpha=opts.alpha, resampling=opts.resampling)
    return [acc, sig]


register(Experiment("table1", "AMPLIFY with n in {1, 3, 5, 7, 9, 20} λ draws, vs n = 5 (paper Table 1)",
                    table1_configs, table1_tables))
