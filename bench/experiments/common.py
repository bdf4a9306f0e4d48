"""
Pieces the paper's experiments share: their accuracy tables relabelled for rows that are variants, not
methods, `versus_table`, the significance table of any set of (A, B) comparisons per column, and `recipe_of`,
another preset's training recipe for a report that reads that preset's grid.
"""

from dataclasses import fields, replace

from bench.report.render import Table, pval, pval_holm, pval_mc, signed_pts
from bench.report.significance import TEST_NAMES, TESTS, borderline_note, p_records, run_family, verdict_of
from bench.report.tables import group

RECIPE = ("lr", "epochs", "patience", "shots", "step_budget", "eval_every")  # what differs between the grids


def recipe_of(base, preset):
    """base with the training options the preset sets, and the defaults of those it does not: the configs, and
    so the keys and files, of the runs that preset's grid made."""
    names = {f.name for f in fields(base)}
    defaults = type(base)()
    return replace(base, **{k: preset.options.get(k, getattr(defaults, k)) for k in RECIPE if k in names})


def relabel(table, name, title, first_header=None):
    """accuracy_table names its rows "method"; our rows are variants (n = 5, block 4, ...)."""
    table.name, table.title = name, title
    if first_header:
        table.headers[0] = first_header
        table.records = [{first_header: r.pop("method"), **r} for r in table.records]
    return table


def versus_table(records, pairs, columns, row, column, *, name, title, alpha, resampling, where="dataset"):
    """bench/report/significance.py's three tests for each (A, B) of `pairs` in each of `columns`, rows and
    columns being labels that `row(cfg)` and `column(cfg)` give; Holm over the whole table, separately per test."""
    cells = group(records, row, column)
    found, adjusted, problems = run_family(cells, [(a, b, col) for col in columns for a, b in pairs], alpha,
                                            resampling)
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
                     pval(w.p_holm), pval_mc(c["bootstrap"]), pval_holm(c["bootstrap"]), pval(c["mcnemar"].p),
                     pval(c["mcnemar"].p_holm), verdict])
        recs.append({where: w.dataset, "a": w.method_a, "b": w.method_b, **ex, **p_records(c, alpha, resampling),
                     "verdict": verdict})
    k = len(found)
    counts = ", ".join(f"{sum(adjusted[t][i].significant for i in range(k))} by {TEST_NAMES[t]}" for t in TESTS)
    notes = [f"Family: the {k} comparisons of this table, Holm–Bonferroni over all {k}, separately for each test. "
             "Δ: A − B in accuracy points (mean over seeds); seeds: the fewer of the two sides.",
             "Welch: over per-seed accuracies (another training seed; little power with 2-3 seeds). Bootstrap "
             "and McNemar (seed ensembles): over test examples (another test set).",
             f"Result at α={alpha}: {counts} of {k} significant after Holm."
             + (f" Surviving: {'; '.join(survivors)}." if survivors else " No difference survives."),
             borderline_note(adjusted, resampling), *problems]
    headers = [where, "A vs B", "Δ pts", "seeds", "Welch p", "Welch Holm", "boot p", "boot Holm", "McNemar p",
               "McNemar Holm", f"verdict (α={alpha}, Holm)"]
    return Table(name, title, headers, rows, recs, notes, align="llrrrrrrrrl")


def by_dataset(cfg):
    return cfg.dataset
