"""
Reporting: tables and figures from stored result files, and the statistics verdicts they carry. It reads
results and calls bench.stats; it never trains. May import bench.stats, bench.grid.plan (run keys) and
amplify.results; never bench.experiments, bench.compare or bench.grid.runner.

    render.py        the Table type, its cell formats, its markdown/LaTeX/CSV rendering (imports nothing here)
    tables.py        the accuracy, cost, budget and failure tables, and the notes on where results came from
    significance.py  which differences are real: the comparison family, three tests per pair, Holm, the verdict
    calibration.py   NLL, ECE and Brier per method and dataset from the stored test probabilities, and their tests
    summary.py       one line per dataset and method, gathered from the three tables above (what the README quotes)
    plots.py         Figure 4's loss and time curves and the Figure 3-style p-value heatmap (CSV + PNG)
    claims.py        --claims: the paper's claims, one line each, checked against every stored result
    speed_files.py   bench.speed JSONs read for a report: the cost claim's rounds, figure4's step times
"""
