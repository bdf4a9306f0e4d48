"""
Statistics, a leaf: significance tests and effect sizes as pure functions on arrays (accuracies per seed,
per-example correctness, p-values). Nothing here knows about runs, result files or tables; it imports
numpy and scipy only, and nothing else from bench. Checked against scipy/statsmodels in tests/test_stats.py.

    checks.py            the conventions every function follows: input validation, DegenerateInputWarning
    over_seeds.py        one accuracy per seed and method: mean ± std, Welch's t (of one difference, or of
                         the mean of several units' differences, with its interval), the paired t over
                         seeds that share a draw (`paired_mean`), Cohen's d / Hedges' g,
                         Brown-Forsythe's variance ratio test (and `deviation_difference`, the
                         difference it tests)
    over_examples.py     per-example correctness on one test set: pool_seeds, the paired bootstrap, McNemar
    multiple_testing.py  many tests at once: Holm, the Comparison row, compare_family; Stouffer's combination
    over_rounds.py       paired timings (bench.speed's interleaved rounds): the ratio of totals, its permutation test
    calibration.py       predicted probabilities: NLL, ECE (15 bins), Brier score, and their paired bootstrap

Two units of randomness matter when comparing method A with method B, and each has its test:
  - across training seeds (one accuracy per seed and method): `welch_t`, `cohens_d`/`hedges_g`,
    `variance_ratio_test`. This is what the AMPLIFY paper reports (Welch's t-test over seeds).
    With 3-5 seeds these tests have little power; a non-significant result is "not shown", not "equal".
  - across test examples (one 0/1 correctness per example, same examples for both methods):
    `paired_bootstrap` and `mcnemar`. These ask whether the difference would hold on another test set
    drawn like this one, for these trained models; they say nothing about seed-to-seed variation.
When a table makes many comparisons, `holm` (through `compare_family`) controls the family-wise error.
"""
