"""The recipe experiment: which runs it makes, and that its table shows dev curves and never test accuracy."""

from dataclasses import replace

from amplify.train import TrainConfig
from bench.experiments.recipe import LRS, recipe_configs, recipe_tables
from bench.experiments.registry import GridSpec, ReportOptions
from bench.report.tables import render_all


def test_configs_sweep_lr_with_early_stopping_off():
    spec = GridSpec(TrainConfig(model="tiny", epochs=4), ("trec-fine", "mrpc"), ("none",), (0,))
    cfgs = recipe_configs(spec)
    assert [(c.dataset, c.lr) for c in cfgs] == [(d, lr) for d in ("trec-fine", "mrpc") for lr in LRS]
    assert all(c.patience == 4 and c.method == "none" and c.seed == 0 for c in cfgs)


def test_table_shows_dev_curves_and_the_best_lr_but_no_test():
    spec = GridSpec(TrainConfig(model="tiny", epochs=2), ("trec-fine",), ("none",), (0,))
    records = []
    for lr, curve, test in ((5e-5, [0.5, 0.6], 0.123456), (1e-4, [0.55, 0.7], 0.654321)):
        res = {"epochs": [{"dev_acc": a} for a in curve], "best_dev_acc": max(curve), "best_epoch": 2,
               "wall_time_s": 60.0, "test_acc": test}
        records.append((replace(spec.base, dataset="trec-fine", method="none", lr=lr), res))
    (table,) = recipe_tables(records, spec, ReportOptions())
    text = render_all([table], "markdown")
    assert "55.0 70.0" in text and "**70.00**" in text and "60.00" in text
    assert "12.3" not in text and "65.4" not in text  # test accuracy never shown
    assert [r["best_dev_acc"] for r in table.records] == [0.6, 0.7]
