"""
figure4: training loss over the first iterations and cumulative training time per method, and a p-value
heatmap of every method against every other (paper Figures 4 and 3), from the table2 grid's runs. The
figures and their CSVs are drawn by bench/report/plots.py.

    python -m bench.compare --experiment figure4 --preset reduced --figure-steps 200
    python -m bench.compare --preset minilm-tuned-figure4 --report-only     # from the tuned grid's MRPC runs
    ... --speed bench/results/DIR      # and the time panel from bench.speed's interleaved step times as well

Reference: Yang & Xiang 2024, "AMPLIFY: Attention-based Mixup for Performance Improvement and Label Smoothing
in Transformer", PeerJ Computer Science (arXiv 2309.12689), Figures 3 and 4.
"""

from bench.experiments.registry import Experiment, register
from bench.experiments.table2 import table2_configs
from bench.experiments.tuned import tuned_configs
from bench.report import plots


def figure4_tables(records, spec, opts):
    return plots.figure4(records, spec, opts)


# its runs are the table2 grid itself: the curves are the first iterations of the real runs (and the heatmap tests
# their accuracy), so a results directory that holds table2 trains nothing here
register(Experiment("figure4", "loss over the first --figure-steps iterations, cumulative training time, and a "
                    "method-vs-method p-value heatmap: CSV + PNG (paper Figures 4 and 3)",
                    table2_configs, figure4_tables, reads_speed=True))


# the same picture from the tuned grid's runs, each method at its own lr (preset minilm-tuned-figure4: MRPC, the
# paper's four methods); a results directory that holds the tuned grid trains nothing here either
register(Experiment("tuned-figure4", "figure4 from the tuned grid's runs (each method at its TUNED_LRS lr)",
                    tuned_configs, figure4_tables, reads_speed=True))
