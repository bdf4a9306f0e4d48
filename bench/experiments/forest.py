"""
forest: every method's accuracy difference from `none` with its 95% interval over seeds, per dataset and
averaged over the datasets, as a table, forest.csv and forest.png (bench/report/forest.py), from the table2
grid's runs.

    python -m bench.compare --preset minilm-table2 --experiment forest --report-only --out DIR

Not a figure of the paper (its Table 2 gives means only): the effect sizes and their uncertainty that its
Table 2 claims rest on.
"""

from bench.experiments.registry import Experiment, register
from bench.grid.plan import grid_configs
from bench.report.forest import forest


def forest_configs(spec):
    # the table2 grid itself, so a results directory that holds table2 trains nothing here
    return grid_configs(spec.base, spec.datasets, spec.methods, spec.seeds)


register(Experiment("forest", "each method's accuracy minus none's with Welch 95% intervals over seeds, per dataset "
                    "and over all: a table, CSV + PNG (forest plot)",
                    forest_configs, forest))
