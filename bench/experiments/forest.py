"""
forest: every method's accuracy difference from `none` with its 95% interval over seeds, per dataset and
averaged over the datasets, as a table, forest.csv and forest.png (bench/report/forest.py), from the table2
grid's runs.

    python -m bench.compare --preset minilm-table2 --experiment forest --report-only --out DIR

Not a figure of the paper (its Table 2 gives means only): the effect sizes and their uncertainty that its
Table 2 claims rest on.
"""

from bench.experiments.registry import Experiment, register
from bench.experiments.table2 import table2_configs
from bench.report.forest import forest

# its runs are the table2 grid itself, so a results directory that holds table2 trains nothing here
register(Experiment("forest", "each method's accuracy minus none's with Welch 95% intervals over seeds, per dataset "
                    "and over all: a table, CSV + PNG (forest plot)",
                    table2_configs, forest))
