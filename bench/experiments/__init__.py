"""
The paper's experiments, one module each, found by name: what a grid runs and which tables it prints
(`python -m bench.compare --experiment NAME`). May import bench.grid.plan, bench.report, bench.stats and the
presets (plain data: an experiment over other grids reads their recipes);
never bench.compare or bench.grid.runner. Importing this package registers every experiment below.

    table2         table2.py         datasets x methods x seeds: accuracy, significance, cost (paper Table 2; default)
    table1         table1.py         AMPLIFY with n ∈ {1, 3, 5, 7, 9, 20} λ draws (paper Table 1)
    table4, table5 table4_5.py       every method with random word deletion / swaps at 5-20% (paper Tables 4, 5)
    table6         table6.py         AMPLIFY in one block only vs every block (paper Table 6)
    figure4        figure4.py        training loss, cumulative time and a p-value heatmap (paper Figures 4 and 3)
    tuned-figure4  figure4.py        the same from the tuned grid's runs, each method at its tuned lr
    forest         forest.py         each method minus none with 95% intervals, per dataset and over all (a forest plot)
    reference-bug  reference_bug.py  the baselines with their released code's label pairing vs as described
    recipe         recipe.py         the lr sweep with whole dev curves that picks a backbone's recipe (dev only)
    tune           tuned.py          each dataset x method at three lrs, <= 15 epochs: each method's own lr, on dev
    fewshot-budget fewshot_budget.py the few-label step budget per K, chosen on none's dev curves (docs/fewshot.md)
    fewshot-gain   fewshot_gain.py   each method's gain over none at K = 10, 100 and the full set (reads three grids)
    paper-tuned    paper_tuned.py    on the tuned recipe: released label pairing, mean pooling, Tables 1 and 6
    protocols      protocols.py      the single recipe beside the tuned one: accuracy change, claims, stopping
    registry.py   Experiment, GridSpec, ReportOptions, EXPERIMENTS, register (imports no experiment module)
    common.py     the pieces the paper's experiments share (relabel, versus_table)

Every experiment takes its datasets, seeds and recipe from the command line and its --preset, like table2;
what it varies (n_draws, noise, blocks, label pairing) it sets itself, and it ignores --methods where the
paper's table has a fixed set of rows (table1, table6). A variant that is table2's own configuration (n = 5,
every block, clean data, the same label permutation) has table2's run key, so one --results directory
shares those runs between experiments instead of training them again.

Each table shows mean ± std over seeds per cell, Δ against a reference row (each module says which), and a
significance table: the three tests of bench/report/significance.py (Welch over seeds, paired bootstrap and
McNemar over test examples), Holm-corrected over every comparison the table makes, with a verdict in words.
"""

# isort: off
# Registration order is the order of --experiment's choices and of `--help`.
from bench.experiments import table2, table1, table4_5, table6, figure4, forest, reference_bug, recipe, tuned  # noqa: F401
from bench.experiments import fewshot_budget, fewshot_gain, paper_tuned, protocols  # noqa: F401
# isort: on
from bench.experiments.registry import EXPERIMENTS, Experiment, GridSpec, ReportOptions, register

__all__ = ["EXPERIMENTS", "Experiment", "GridSpec", "ReportOptions", "register"]
