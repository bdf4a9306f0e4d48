"""The recipe experiment: which runs it makes, and that its table shows dev curves and never test accuracy."""

from dataclasses import replace

from amplify.train import TrainConfig
from bench.experiments.recipe import LRS, recipe_configs, recipe_tables
from bench.experiments.registry import GridSpec, ReportOptions
from bench.report.render import render_all


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


def test_one_lr_for_all_by_mean_best_dev():
    from bench.experiments.recipe import choice_notes, choose

    def t(d, lr, acc, ep=2):
        return {"dataset": d, "lr": lr, "best_dev_acc": acc, "best_epoch": ep}

    tidy = [t("a", 5e-5, 0.80), t("a", 1e-4, 0.84, 5), t("b", 5e-5, 0.70), t("b", 1e-4, 0.68), t("b", 2e-4, 0.9)]
    lr, means = choose(tidy, ("a", "b"))
    assert lr == 1e-4 and means == {5e-5: 0.75, 1e-4: 0.76}  # 2e-4 was not run on "a": not a candidate
    notes = choice_notes(tidy, ("a", "b"))
    assert "1e-4 (5e-5: 75.00, 1e-4: 76.00)" in notes[0]
    assert "a 1e-4, b 2e-4" in notes[1] and "at 1e-4: a 5, b 2" in notes[1]
    assert choose([t("a", 1e-4, 0.5), t("b", 5e-5, 0.5)], ("a", "b")) == (None, {})
    assert choose([t("a", 1e-4, 0.5), t("a", 5e-5, 0.5)], ("a",))[0] == 5e-5  # a tie goes to the smaller lr
