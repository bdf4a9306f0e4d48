"""
The paper's other experiments, as `python -m bench.compare --experiment NAME`.

    table1         AMPLIFY with n ∈ {1, 3, 5, 7, 9, 20} λ draws (paper Table 1)
    table4         every method on training texts with random word deletion at 5-20% (paper Table 4)
    table5         the same with random word swaps (paper Table 5)
    table6         AMPLIFY in one block only (the paper's 4th, 8th, 12th of 12) vs every block (paper Table 6)
    figure4        training loss over the first iterations and cumulative training time per method, and a
                   p-value heatmap of every method against every other (paper Figures 4 and 3; bench/plots.py)
    reference-bug  the baselines trained with their released code's label pairing vs as described (method.md)

    python -m bench.compare --experiment table1 --preset paper     # bert-base, 7 datasets, 3 seeds: a GPU job
    python -m bench.compare --experiment table4 --preset reduced   # MiniLM, TREC-coarse, 2 seeds, 1 epoch: CPU
    python -m bench.compare --experiment table6 --datasets trec-fine sst-2 --seeds 0 1 2 --model minilm-l6

Every experiment takes its datasets, seeds and recipe from the command line and its --preset, like table2;
what it varies (n_draws, noise, blocks, label pairing) it sets itself, and it ignores --methods where the
paper's table has a fixed set of rows (table1, table6). A variant that is table2's own configuration (n = 5,
every block, clean data, the same label permutation) has table2's run key, so one --results directory
shares those runs between experiments instead of training them again.

Each table shows mean ± std over seeds per cell, Δ against a reference row, and a significance table: the
three tests of bench/significance.py (Welch over seeds, paired bootstrap and McNemar over test examples),
Holm-corrected over every comparison the table makes, with a verdict in words. The reference rows:
  table1: n = 5, AMPLIFY's default. The question is "does n matter?", answered against the setting the
          other tables use; "does AMPLIFY beat none?" is table2's.
  table4/5: `none` at the same noise level (does mixup help on noisy data?), plus amplify vs each baseline.
          The 0% column is the clean reference (table2's runs) and is shown, not tested; how much each
          method loses to the noise is the robustness table, and whether AMPLIFY loses less is --claims'.
  table6: every block, AMPLIFY's default.
  reference-bug: each baseline as described; amplify against each baseline under both pairings.

Reference: Yang & Xiang 2024, "AMPLIFY: Attention-based Mixup for Performance Improvement and Label Smoothing
in Transformer", PeerJ Computer Science (arXiv 2309.12689), Tables 1, 4, 5, 6 and Figures 3, 4.
"""

import json
import math
from dataclasses import replace
from pathlib import Path

from amplify.methods import scale_layer
from bench.experiments import Experiment, register
from bench.grid import grid_configs
from bench.significance import TEST_NAMES, TESTS, family, run_family, verdict_of
from bench.stats import mean_std
from bench.tables import Table, accuracy_table, group, pct, pval, signed_pts

N_DRAWS = (1, 3, 5, 7, 9, 20)  # paper Table 1
NOISE_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20)  # data/noise.py PAPER_LEVELS, plus the clean reference
PAPER_BLOCKS = (4, 8, 12)  # paper Table 6, of 12 blocks
MODEL_DEPTH = {"bert-base-uncased": 12, "minilm-l6": 6}  # "tiny": model.bert.tiny_config()
RELEASED = " (released pairing)"
NOISE_WORDS = {"delete": "deletion", "swap": "swaps"}


# -----------------------------------------------------------------------------
# shared pieces


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


def relabel(table, name, title, first_header=None):
    """accuracy_table names its rows "method"; our rows are variants (n = 5, block 4, ...)."""
    table.name, table.title = name, title
    if first_header:
        table.headers[0] = first_header
        table.records = [{first_header: r.pop("method"), **r} for r in table.records]
    return table


def drop_mean_column(table):
    """accuracy_table adds a "mean" column when it has several columns; averaging over noise levels (the clean
    one included) is not a number the paper reports, so the noise tables leave it out."""
    if table.headers[-1] != "mean":
        return table
    table.headers.pop()
    for row in table.rows:
        row.pop()
    table.records = [r for r in table.records if r.get("dataset") != "mean"]
    table.notes = [n for n in table.notes if not n.startswith("mean:")]
    return table


def versus_table(records, pairs, columns, row, column, *, name, title, alpha, n_resamples, where="dataset"):
    """bench/significance.py's three tests for each (A, B) of `pairs` in each of `columns`, rows and columns being
    labels that `row(cfg)` and `column(cfg)` give; Holm over the whole table, separately per test."""
    cells = group(records, row, column)
    found, adjusted, problems = run_family(cells, [(a, b, col) for col in columns for a, b in pairs], alpha,
                                            n_resamples)
    rows, recs, survivors = [], [], []
    for i, (_, ex) in enumerate(found):
        c = {t: adjusted[t][i] for t in TESTS}
        w = c["welch"]
        verdict, who, sig = verdict_of(c, ex)
        if sig:
            survivors.append(f"{w.dataset}: {w.method_a} vs {w.method_b} ({who})")
        one_seed = min(ex["n_seeds_a"], ex["n_seeds_b"]) < 2
        rows.append([w.dataset, f"{w.method_a} vs {w.method_b}", signed_pts(ex["delta"]),
                     f"{min(ex['n_seeds_a'], ex['n_seeds_b'])}", "n/a (1 seed)" if one_seed else pval(w.p),
                     pval(w.p_holm), pval(c["bootstrap"].p), pval(c["bootstrap"].p_holm), pval(c["mcnemar"].p),
                     pval(c["mcnemar"].p_holm), verdict])
        recs.append({where: w.dataset, "a": w.method_a, "b": w.method_b, **ex,
                     **{f"{t}_p": c[t].p for t in TESTS}, **{f"{t}_p_holm": c[t].p_holm for t in TESTS},
                     "alpha": alpha, "verdict": verdict})
    k = len(found)
    counts = ", ".join(f"{sum(adjusted[t][i].significant for i in range(k))} by {TEST_NAMES[t]}" for t in TESTS)
    notes = [f"Family: the {k} comparisons of this table, Holm–Bonferroni over all {k}, separately for each test. "
             "Δ: A − B in accuracy points (mean over seeds); seeds: the fewer of the two sides.",
             "Welch: over per-seed accuracies (another training seed; little power with 2-3 seeds). Bootstrap "
             f"({n_resamples} resamples) and McNemar (seed ensembles): over test examples (another test set).",
             f"Result at α={alpha}: {counts} of {k} significant after Holm."
             + (f" Surviving: {'; '.join(survivors)}." if survivors else " No difference survives."), *problems]
    headers = [where, "A vs B", "Δ pts", "seeds", "Welch p", "Welch Holm", "boot p", "boot Holm", "McNemar p",
               "McNemar Holm", f"verdict (α={alpha}, Holm)"]
    return Table(name, title, headers, rows, recs, notes, align="llrrrrrrrrl")


def by_dataset(cfg):
    return cfg.dataset


# -----------------------------------------------------------------------------
# Table 1: the number of λ draws


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
                       alpha=opts.alpha, n_resamples=opts.n_resamples)
    return [acc, sig]


# -----------------------------------------------------------------------------
# Tables 4 and 5: noisy training texts


def level_name(noise, p):
    return f"{round(100 * p)}%" if noise and p > 0 else "0% (clean)"


def level_label(cfg):
    return level_name(cfg.noise, cfg.noise_p)


def noise_configs(kind):
    def configs(spec):
        out = []
        for d in spec.datasets:
            for p in NOISE_LEVELS:  # p = 0 is table2's configuration exactly (noise None), so the run is shared
                base = replace(spec.base, noise=kind if p > 0 else None, noise_p=p)
                out += grid_configs(base, (d,), spec.methods, spec.seeds)
        return out

    return configs


def robustness_table(records, methods, datasets, levels, name, kind):
    """Per method and level: accuracy with noise minus without, per seed (the same seed's clean run), then
    mean ± std over seeds. Descriptive; --claims tests whether AMPLIFY loses less."""
    acc = {(c.dataset, c.method, level_label(c), c.seed): r["test_acc"] for c, r in records}
    rows, recs = [], []
    for d in datasets:
        for m in methods:
            cells = [d, m]
            for lv in levels[1:]:
                seeds = [s for (dd, mm, ll, s) in acc if (dd, mm, ll) == (d, m, lv) and (d, m, levels[0], s) in acc]
                diffs = [acc[(d, m, lv, s)] - acc[(d, m, levels[0], s)] for s in sorted(seeds)]
                if not diffs:
                    cells.append("–")
                    continue
                mean, std = mean_std(diffs)
                cells.append(signed_pts(mean) + ("" if math.isnan(std) else f" ± {pct(std)}") + f" ({len(diffs)})")
                recs.append({"dataset": d, "method": m, "noise": kind, "level": lv, "n_seeds": len(diffs),
                             "mean_change": mean, "std_change": std})
            if any(c != "–" for c in cells[2:]):
                rows.append(cells)
    notes = [f"Test accuracy with word {NOISE_WORDS[kind]} minus the same seed's clean run, in points: mean ± std "
             "over seeds (number of seeds). Negative: the noise hurt. Descriptive only; `--claims` tests whether "
             "AMPLIFY loses less than the others."]
    return Table(name, f"Robustness: change from the clean accuracy with random word {NOISE_WORDS[kind]}",
                 ["dataset", "method", *levels[1:]],
                 rows, recs, notes, align="ll" + "r" * (len(levels) - 1))


def noise_tables(kind, number):
    def tables(records, spec, opts):
        levels = [level_name(kind, p) for p in NOISE_LEVELS]
        out = []
        for d in spec.datasets:
            mine = [(c, r) for c, r in records if c.dataset == d]
            if mine:
                out.append(drop_mean_column(relabel(
                    accuracy_table(mine, spec.methods, levels, column=level_label), f"table{number}-{d}",
                    f"Table {number}: test accuracy on {d} with random word {NOISE_WORDS[kind]} in the "
                    "training texts (rows: method; columns: share of words affected)")))
        setting = lambda c: f"{c.dataset} {level_label(c)}"
        noisy = [f"{d} {lv}" for d in spec.datasets for lv in levels[1:]]
        out.append(versus_table(records, family(spec.methods), noisy, lambda c: c.method, setting,
                                name=f"table{number}-significance", where="setting",
                                title=f"Table {number}: each method vs none and amplify vs each baseline, per noise "
                                      "level", alpha=opts.alpha, n_resamples=opts.n_resamples))
        out.append(robustness_table(records, spec.methods, spec.datasets, levels, f"table{number}-robustness", kind))
        return out

    return tables


# -----------------------------------------------------------------------------
# Table 6: AMPLIFY in one block


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
                       alpha=opts.alpha, n_resamples=opts.n_resamples)
    return [acc, sig]


# -----------------------------------------------------------------------------
# the released code's label pairing


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
                       alpha=opts.alpha, n_resamples=opts.n_resamples)
    return [acc, sig]


# -----------------------------------------------------------------------------
# Figure 4 (and the Figure 3 heatmap): the table2 grid, plotted


def figure4_configs(spec):
    # the table2 grid itself: the curves are the first iterations of the real runs (and the heatmap tests their
    # accuracy), so a results directory that holds table2 trains nothing here
    return grid_configs(spec.base, spec.datasets, spec.methods, spec.seeds)


def figure4_tables(records, spec, opts):
    from bench.plots import figure4

    return figure4(records, spec, opts)


register(Experiment("table1", "AMPLIFY with n in {1, 3, 5, 7, 9, 20} λ draws, vs n = 5 (paper Table 1)",
                    table1_configs, table1_tables))
register(Experiment("table4", "every method with random word deletion at 0/5/10/15/20% of training words "
                    "(paper Table 4)", noise_configs("delete"), noise_tables("delete", 4)))
register(Experiment("table5", "every method with random word swaps at 0/5/10/15/20% (paper Table 5)",
                    noise_configs("swap"), noise_tables("swap", 5)))
register(Experiment("table6", "AMPLIFY in the paper's block 4, 8 or 12 only (scaled to the depth) vs every block "
                    "(paper Table 6)", table6_configs, table6_tables))
register(Experiment("figure4", "loss over the first --figure-steps iterations, cumulative training time, and a "
                    "method-vs-method p-value heatmap: CSV + PNG (paper Figures 4 and 3)",
                    figure4_configs, figure4_tables))
register(Experiment("reference-bug", "each baseline with its released code's label pairing (--label-perm "
                    "independent) vs as described", reference_bug_configs, reference_bug_tables))
