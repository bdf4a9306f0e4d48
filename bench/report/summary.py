"""
The summary: one line per dataset and method, what a reader looks for first, gathered from the other tables.

    summary_table(accuracy, significance, calibration)   # the Tables of tables.py, significance.py, calibration.py

It computes nothing new: the accuracy (mean ± std over seeds, Δ vs `none`) is the accuracy table's, the three
p-values are the significance table's Holm-adjusted ones for "method vs none" (so the same family: every method
vs none and amplify vs every other method, on every dataset of the report), and NLL / ECE / Brier are the
calibration table's means. AMPLIFY vs the other methods stays in the significance table, as do the unadjusted
p-values. The README quotes this table; tests/test_readme_results.py checks that it quotes it exactly.
"""

import math

from bench.report.render import Table, bold, pct, pval, signed_pts


def _by(records, *keys):
    return {tuple(r[k] for k in keys): r for r in records}


def _metric(cell, key):
    """A calibration table record's mean of `key` as printed: ECE in percent, NLL and Brier with 3 decimals."""
    value = cell.get(f"{key}_mean", math.nan)
    if math.isnan(value):
        return "n/a"
    return f"{100 * value:.2f}" if key == "ece" else f"{value:.3f}"


def summary_table(accuracy, significance, calibration, baseline="none", best="best-dev epoch"):
    """Rows (dataset, method) in the accuracy table's method order; the best mean accuracy of a dataset in bold.
    best: what the tested weights are called (tables.best_dev)."""
    acc = [r for r in accuracy.records if r["dataset"] != "mean"]
    sig = _by(significance.records, "dataset", "method_a", "method_b")
    cal = _by(calibration.records, "dataset", "method")
    datasets = list(dict.fromkeys(r["dataset"] for r in acc))
    rows, recs = [], []
    for d in datasets:
        cells = [r for r in acc if r["dataset"] == d]
        best = max(round(100 * r["mean_acc"], 2) for r in cells)
        for r in cells:
            m = r["method"]
            text = pct(r["mean_acc"]) + ("" if math.isnan(r["std_acc"]) else f" ± {pct(r['std_acc'])}")
            s, c = sig.get((d, m, baseline)), cal.get((d, m), {})
            p = {t: (s[f"{t}_p_holm"] if s else math.nan) for t in ("welch", "bootstrap", "mcnemar")}
            delta = r[f"delta_vs_{baseline}"]
            rows.append([d, m, bold(text) if round(100 * r["mean_acc"], 2) == best else text, str(r["n_seeds"]),
                         "" if math.isnan(delta) else signed_pts(delta),
                         *("" if m == baseline else pval(p[t]) for t in p),
                         *(_metric(c, k) for k in ("nll", "ece", "brier"))])
            recs.append({"dataset": d, "method": m, "n_seeds": r["n_seeds"], "mean_acc": r["mean_acc"],
                         "std_acc": r["std_acc"], f"delta_vs_{baseline}": delta,
                         **{f"{t}_p_holm_vs_{baseline}": v for t, v in p.items()},
                         **{f"{k}_mean": c.get(f"{k}_mean", math.nan) for k in ("nll", "ece", "brier")}})
    notes = [f"Test accuracy (%) at the {best}, mean ± sample std over seeds; Δ vs {baseline} in points; "
             "bold: the best mean of the dataset.",
             f"p Holm: the method vs {baseline}, Holm-adjusted over the significance table's family (every method "
             f"vs {baseline} and amplify vs every other method, on every dataset of this report): Welch over "
             "seeds, paired bootstrap and McNemar over test examples. amplify vs the others: see that table.",
             "NLL, ECE (%), Brier: the calibration table's means over seeds (lower is better); n/a: no stored "
             "test probabilities."]
    headers = ["dataset", "method", "test acc %", "seeds", "Δ pts", "Welch Holm p", "boot Holm p",
               "McNemar Holm p", "NLL", "ECE %", "Brier"]
    return Table("summary", "Summary: accuracy, significance vs none and calibration", headers, rows, recs, notes,
                 align="llrrrrrrrrr")
