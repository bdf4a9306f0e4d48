"""
The named grids of `python -m bench.compare --preset NAME`: which datasets, methods and seeds, and which run.py
options (by their argparse dest). A flag given on the command line wins over the preset.

    paper               the paper's Table 2 recipe with bert-base-uncased (a GPU job)
    quick, smoke        the acceptance grid on 2 CPU cores; the tests' grid
    cpu-small, reduced  MiniLM on the five small datasets; the CPU version of any --experiment
    minilm-recipe       the recipe calibration: none at each lr, on dev only, into its committed folder
    minilm-table2       the evidence grid on the chosen recipe, into its committed folder (the README's results)
    minilm-table2-imdb  its IMDB cells on a fixed subset
    minilm-table4, minilm-table5  its noise tables: TREC-coarse with word deletion / swaps, the clean column read
                        from minilm-table2's folder
    minilm-budget       the budget check: TREC-fine, none and AMPLIFY with twice the epochs
    minilm-tune         the tuning runs: each dataset x method at three lrs, <= 15 epochs, patience 3
    minilm-tuned        the tuned grid: each cell at its tuned lr, seeds 0-4
    minilm-fewshot-10   the few-label grid, K = 10 per class (docs/fewshot.md), 400 steps
    minilm-fewshot-100  the same with K = 100, 800 steps
    minilm-fewshot-budget  the calibration of their step budget: none, seed 0, three budgets per K (dev only)
    minilm-fewshot-gain    the gain over none against K = 10, 100 and the full set: reads the three grids
    minilm-paper-tuned     the released code's label pairing and head, Tables 1 and 6, on the tuned recipe
    minilm-tuned-figure4   the paper's Figure 4 from the tuned grid's MRPC runs (reads it)
    minilm-protocols       the single recipe beside the tuned one: accuracy change, claims, stopping (reads both)
    minilm-byom-example    a method of one's own, worked through: AMP (examples/amp.py) beside none and AMPLIFY on TREC

Without --preset the grid is the paper's Table 2: its seven datasets x TABLE2_METHODS x seeds 0-2.
"""

from dataclasses import dataclass, field

TABLE2_DATASETS = ("mrpc", "sst-2", "sst-5", "trec-coarse", "trec-fine", "imdb", "yelp-5")  # paper Table 2 order
TABLE2_METHODS = ("none", "embedmix", "sentmix", "tmix", "amplify")
TABLE2_SEEDS = (0, 1, 2)
BYOM_EXAMPLE = "examples/amp.py:AMP"  # the worked example of a method of one's own, by its path
ALL_METHODS = ("none", "embedmix", "sentmix", "tmix", "manifold", "amplify", "labelsmooth", "ssmix",
               "mixup-transformer")  # the six methods and the three controls of minilm-table2

# The few-label budget, per K: optimiser steps (the cosine schedule spans them) and dev every N steps,
# chosen by the calibration on `none`'s dev accuracy only (preset minilm-fewshot-budget, committed in
# bench/results/minilm-fewshot-budget; tests/test_fewshot.py checks that these are its choices). 400 steps are
# 27 (TREC-fine) to 400 (MRPC, SST-2) epochs of K = 10, and 800 steps 10 to 114 epochs of K = 100, with LM-BFF's
# 20 dev evaluations per run (Gao et al. 2021: 1,000 steps, dev every 100).
FEWSHOT_STEPS = {10: 400, 100: 800}
FEWSHOT_EVALS = 20  # dev evaluations per run, whatever the budget (bench/experiments/fewshot_budget.py: the same)
FEWSHOT_EVAL_EVERY = {k: steps // FEWSHOT_EVALS for k, steps in FEWSHOT_STEPS.items()}  # 20 and 40 steps


@dataclass(frozen=True)
class Preset:
    summary: str
    datasets: tuple = TABLE2_DATASETS
    methods: tuple = TABLE2_METHODS
    seeds: tuple = TABLE2_SEEDS
    options: dict = field(default_factory=dict)  # run.py options, by their argparse dest


PRESETS = {
    "paper": Preset("the paper's Table 2 with bert-base-uncased and its recipe (15 epochs, lr 2e-5): a GPU job",
                    options={"model": "bert-base-uncased"}),
    # Why subsets: MiniLM trains at ~1-3 s/step on 2 cores (SST-2's longer sentences at the slow end), so
    # 2 full epochs of TREC-coarse and SST-2 for 8 runs are ~3,000 steps, 1.5-2.5 hours. 1,000 training
    # examples (the same fixed subset for every seed, amplify/train.py) and at most 500 dev/test examples
    # keep the grid near 30 minutes; lr 1e-4 because 64 steps at 2e-5 barely move the model.
    "quick": Preset("the CPU acceptance grid: MiniLM, TREC-coarse and SST-2, none vs amplify, 2 seeds, 2 epochs "
                    "on 1,000 training and <= 500 dev/test examples at lr 1e-4 (8 min on 2 free cores, measured)",
                    datasets=("trec-coarse", "sst-2"), methods=("none", "amplify"), seeds=(0, 1),
                    options={"model": "minilm-l6", "epochs": 2, "lr": 1e-4, "train_limit": 1000, "eval_limit": 500}),
    "cpu-small": Preset("MiniLM on the five small datasets x 5 methods x 3 seeds, 3 epochs at lr 5e-5 "
                        "(a day or more on 2 CPU cores, an hour on a GPU)",
                        datasets=("trec-coarse", "trec-fine", "sst-2", "sst-5", "mrpc"),
                        options={"model": "minilm-l6", "epochs": 3, "lr": 5e-5}),
    # The recipe calibration: `none`, seed 0, each lr of bench/experiments/recipe.py, 6 epochs with early
    # stopping off, on the five datasets of the MiniLM Table 2 grid (the preset sets --experiment recipe).
    "minilm-recipe": Preset("the recipe calibration (experiment recipe): MiniLM, none, seed 0, lr in {5e-5, 1e-4, "
                            "2e-4}, 6 epochs, whole dev curves on TREC-fine, MRPC, SST-5, SST-2, TREC-coarse, into "
                            "its committed folder bench/results/minilm-table2-calibration (~15 CPU-hours)",
                            datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"), methods=("none",),
                            seeds=(0,), options={"model": "minilm-l6", "epochs": 6, "patience": 6,
                                                 "experiment": "recipe",
                                                 "results": "bench/results/minilm-table2-calibration"}),
    # The evidence grid, on the recipe the calibration above chose on dev only (bench/results/minilm-table2-
    # calibration; `--preset minilm-recipe --report-only` prints the rule and the choice).
    # Its results default to the committed folder: this preset is the project's evidence, and running it again
    # continues that grid (finished runs are never re-run). Use --results elsewhere for runs of your own.
    "minilm-table2": Preset("issue 13's evidence grid: MiniLM on TREC-fine, MRPC, SST-5, SST-2, TREC-coarse x the "
                            "six methods and the three controls x seeds 0-4 (seeds 0-2 first), lr 1e-4, <= 6 epochs, "
                            "patience 3, into bench/results/minilm-table2 (~70 CPU-hours)",
                            datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"),
                            methods=("none", "embedmix", "sentmix", "tmix", "manifold", "amplify", "labelsmooth",
                                     "ssmix", "mixup-transformer"), seeds=(0, 1, 2, 3, 4),
                            options={"model": "minilm-l6", "epochs": 6, "patience": 3, "lr": 1e-4,
                                     "first_seeds": 3, "results": "bench/results/minilm-table2",
                                     "also_read": ["bench/results/minilm-noise"]}),  # --claims: the noise runs too
    # IMDB on MiniLM costs ~2.5 h per epoch per run on one core (11.5 s per step of 32 reviews x 256 tokens:
    # bench/results/speed-train-step/speed-cpu-minilm-l6-b32-imdb.json): the full grid up to ~675 CPU-hours. So a
    # fixed subset, the same for every method and seed, named as a subset under every table; same recipe as
    # minilm-table2.
    "minilm-table2-imdb": Preset("issue 13's IMDB cells on a fixed subset: MiniLM, 2,000 training and 1,000 dev/test "
                                 "reviews x the six methods and the three controls x seeds 0-4, the minilm-table2 "
                                 "recipe, into bench/results/minilm-table2-imdb (~42 CPU-hours)",
                                 datasets=("imdb",),
                                 methods=("none", "embedmix", "sentmix", "tmix", "manifold", "amplify", "labelsmooth",
                                          "ssmix", "mixup-transformer"), seeds=(0, 1, 2, 3, 4),
                                 options={"model": "minilm-l6", "epochs": 6, "patience": 3, "lr": 1e-4,
                                          "train_limit": 2000, "eval_limit": 1000, "first_seeds": 3,
                                          "results": "bench/results/minilm-table2-imdb"}),
    # The noise tables (paper Tables 4 and 5) in their cheapest useful form: TREC-coarse, the six methods,
    # seeds 0-2, the minilm-table2 recipe, at 5-20% noise. Their 0% column is minilm-table2's clean runs, read
    # from its folder (--also-read), so that a noisy run and the clean run it is compared with differ in their data
    # only; the noisy runs have their own folder.
    **{f"minilm-table{n}": Preset(
        f"issue 13's Table {n}: MiniLM, TREC-coarse x the six methods x seeds 0-2, the minilm-table2 recipe, with "
        f"random word {word} at 5/10/15/20% of training words, into bench/results/minilm-noise; the clean column "
        "read from bench/results/minilm-table2 (~8 CPU-hours)",
        datasets=("trec-coarse",), methods=("none", "embedmix", "sentmix", "tmix", "manifold", "amplify"),
        seeds=(0, 1, 2),
        options={"model": "minilm-l6", "epochs": 6, "patience": 3, "lr": 1e-4, "experiment": f"table{n}",
                 "results": "bench/results/minilm-noise", "also_read": ["bench/results/minilm-table2"]})
       for n, word in ((4, "deletion"), (5, "swaps"))},
    # The minilm-table2 recipe's 6 epochs were chosen on `none`; on TREC-fine most mixing runs had their best dev
    # epoch in the last one (`--report-only`'s budget table). The same cells with twice the budget (the cosine
    # schedule stretched over it, the same early-stopping rule) say whether AMPLIFY's gap there is the budget's.
    "minilm-budget": Preset("issue 13's budget check: MiniLM, TREC-fine, none and AMPLIFY x seeds 0-4, the "
                            "minilm-table2 recipe with 12 epochs instead of 6, into "
                            "bench/results/minilm-budget-trec-fine (~3 CPU-hours)",
                            datasets=("trec-fine",), methods=("none", "amplify"), seeds=(0, 1, 2, 3, 4),
                            options={"model": "minilm-l6", "epochs": 12, "patience": 3, "lr": 1e-4,
                                     "results": "bench/results/minilm-budget-trec-fine"}),
    # The tuning runs (bench/experiments/tuned.py states the protocol, docs/tuned-grid.md its reasons):
    # every method gets its own lr on dev, with the paper's 15-epoch budget and early stopping.
    "minilm-tune": Preset("issue 46's tuning runs: MiniLM, TREC-fine, MRPC, SST-5, SST-2, TREC-coarse x the nine "
                          "methods x lr {5e-5, 1e-4, 2e-4}, seed 0, <= 15 epochs, patience 3, into "
                          "bench/results/minilm-tuning (~65 CPU-hours)",
                          datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"),
                          methods=("none", "embedmix", "sentmix", "tmix", "manifold", "amplify", "labelsmooth",
                                   "ssmix", "mixup-transformer"), seeds=(0,),
                          options={"model": "minilm-l6", "epochs": 15, "patience": 3, "experiment": "tune",
                                   "results": "bench/results/minilm-tuning"}),
    # The tuned grid: each cell at its tuned lr (bench/experiments/tuned.py: TUNED_LRS, the cells decided
    # so far), seeds 0-4; seed 0 is the tuning run itself, copied in by --reuse.
    "minilm-tuned": Preset("issue 46's final grid: MiniLM, TREC-fine, MRPC, SST-5, SST-2, TREC-coarse x the nine "
                           "methods, each at its tuned lr, seeds 0-4, <= 15 epochs, patience 3, seed 0 reused from "
                           "bench/results/minilm-tuning, into bench/results/minilm-tuned",
                           datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"), methods=ALL_METHODS,
                           seeds=(0, 1, 2, 3, 4),
                           options={"model": "minilm-l6", "epochs": 15, "patience": 3, "experiment": "tuned",
                                    "reuse": "bench/results/minilm-tuning", "first_seeds": 3,
                                    "results": "bench/results/minilm-tuned"}),
    # The two recipes side by side (bench/experiments/protocols.py): minilm-table2's and minilm-tuned's runs, read
    # in place, each rebuilt from its own preset's recipe. Trains nothing; the tables go to its own folder.
    "minilm-protocols": Preset("issue 46's comparison: MiniLM, the single recipe (minilm-table2) beside the tuned "
                               "one (minilm-tuned) on TREC-fine, MRPC, SST-5, SST-2, TREC-coarse x the nine "
                               "methods x seeds 0-4: accuracy change per cell, each claim's verdict under both, "
                               "early stopping; reads both grids in place, tables into "
                               "bench/results/minilm-protocols",
                               datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"), methods=ALL_METHODS,
                               seeds=(0, 1, 2, 3, 4),
                               options={"model": "minilm-l6", "experiment": "protocols",
                                        "also_read": ["bench/results/minilm-table2", "bench/results/minilm-tuned"],
                                        "results": "bench/results/minilm-protocols"}),
    # The rest of the paper on the tuned recipe (bench/experiments/paper_tuned.py), TREC-fine and MRPC
    # (the paper's largest claimed gains), each variant at its method's tuned lr; the reference runs are the tuned
    # grid's, read in place. 14 new runs per dataset and seed: 140 for two datasets x seeds 0-4.
    "minilm-paper-tuned": Preset("issue 51: MiniLM, TREC-fine and MRPC, on minilm-tuned's recipe and lrs: the "
                                 "baselines with the released label pairing, none and AMPLIFY mean-pooled, AMPLIFY "
                                 "with n in {1, 3, 7, 9, 20} draws and in one block, seeds 0-4 (0-2 first), reference "
                                 "runs read from bench/results/minilm-tuned, into bench/results/minilm-paper-tuned",
                                 datasets=("trec-fine", "mrpc"), methods=ALL_METHODS, seeds=(0, 1, 2, 3, 4),
                                 options={"model": "minilm-l6", "epochs": 15, "patience": 3,
                                          "experiment": "paper-tuned", "first_seeds": 3,
                                          "also_read": ["bench/results/minilm-tuned", "bench/results/minilm-tuning"],
                                          "results": "bench/results/minilm-paper-tuned"}),
    # The paper's Figure 4 from the tuned grid's MRPC runs of its four methods (training loss over the first
    # iterations, cumulative training time from the runs' own timers); reads the tuned grid, trains nothing.
    "minilm-tuned-figure4": Preset("Figure 4 from the tuned grid: MRPC, EmbedMix, TMix, AMPLIFY, SentMix at their "
                                   "tuned lrs, seeds 0-4, read from bench/results/minilm-tuned (and -tuning), "
                                   "CSV + PNG into bench/results/minilm-tuned-figures",
                                   datasets=("mrpc",), methods=("embedmix", "tmix", "amplify", "sentmix"),
                                   seeds=(0, 1, 2, 3, 4),
                                   options={"model": "minilm-l6", "epochs": 15, "patience": 3,
                                            "experiment": "tuned-figure4",
                                            "also_read": ["bench/results/minilm-tuned", "bench/results/minilm-tuning"],
                                            "results": "bench/results/minilm-tuned-figures"}),
    # The few-label grids (docs/fewshot.md): K examples per class for train and K per class for dev, drawn by
    # the seed (seeds 0-4 = five draws, the same for every method: data/fewshot.py), the full official test set;
    # the budget of FEWSHOT_STEPS (calibrated), no early stopping (patience = the number of evaluations), the best
    # dev evaluation's weights tested once; lr 1e-4, minilm-table2's lr for every method. Cost from the
    # calibration's `none` runs at the chosen budgets (one core): 2.4-5.7 minutes a run for K = 10 (15 CPU-hours
    # for 225 runs at `none`'s speed), 4.8-14.3 for K = 100 (30 CPU-hours); the mixing methods cost more a step.
    **{f"minilm-fewshot-{k}": Preset(
        f"issue 47's few-label grid: MiniLM, K = {k} examples per class (train and dev), TREC-fine, MRPC, SST-5, "
        f"SST-2, TREC-coarse x the nine methods x seeds 0-4 (five draws), {FEWSHOT_STEPS[k]} steps with dev every "
        f"{FEWSHOT_EVAL_EVERY[k]}, lr 1e-4, into "
        f"bench/results/minilm-fewshot-{k}",
        datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"), methods=ALL_METHODS, seeds=(0, 1, 2, 3, 4),
        options={"model": "minilm-l6", "shots": k, "step_budget": FEWSHOT_STEPS[k],
                 "eval_every": FEWSHOT_EVAL_EVERY[k], "patience": FEWSHOT_EVALS,
                 "lr": 1e-4, "first_seeds": 3, "results": f"bench/results/minilm-fewshot-{k}"})
       for k in (10, 100)},
    # The few-label grids beside the full-data one: each method's gain over `none` by the number of labelled
    # examples (bench/experiments/fewshot_gain.py rebuilds each source grid's recipe from its preset). Trains
    # nothing: the runs are read in place from the three grids' folders; the table and picture go to its own.
    "minilm-fewshot-gain": Preset("issue 47's picture: MiniLM, each method's gain over none at K = 10, K = 100 and "
                                  "the full training set, from bench/results/minilm-fewshot-10, -100 and "
                                  "minilm-table2 (read in place; run those presets to add runs), the table and "
                                  "gain_vs_labels.{csv,png} into bench/results/minilm-fewshot-gain",
                                  datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"),
                                  methods=ALL_METHODS, seeds=(0, 1, 2, 3, 4),
                                  options={"model": "minilm-l6", "experiment": "fewshot-gain",
                                           "also_read": ["bench/results/minilm-fewshot-10",
                                                    "bench/results/minilm-fewshot-100",
                                                    "bench/results/minilm-table2"],
                                           "results": "bench/results/minilm-fewshot-gain"}),
    # The calibration that chose FEWSHOT_STEPS: `none`, seed 0, each K at three budgets
    # (bench/experiments/fewshot_budget.py states the rule), on dev accuracy only.
    "minilm-fewshot-budget": Preset("with --experiment fewshot-budget: MiniLM, none, seed 0, K = 10 at 100/200/400 "
                                    "steps and K = 100 at 200/400/800, TREC-fine, MRPC, SST-5, SST-2, TREC-coarse, "
                                    "lr 1e-4, whole dev curves, into bench/results/minilm-fewshot-budget (2 "
                                    "CPU-hours)",
                                    datasets=("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"),
                                    methods=("none",), seeds=(0,),
                                    options={"model": "minilm-l6", "lr": 1e-4, "experiment": "fewshot-budget",
                                             "results": "bench/results/minilm-fewshot-budget"}),
    # The worked example of a method of one's own (examples/amp.py, docs/adding-a-method.md): AMP beside none
    # and AMPLIFY, minilm-table2's recipe, on the two TREC datasets. The method is named by its path, relative to
    # the checkout's root: run it from there. Its runs' keys hold the file's sha256: editing it re-runs them.
    "minilm-byom-example": Preset("issue 50's worked example: MiniLM, TREC-coarse and TREC-fine x none, amplify and "
                                  "AMP (examples/amp.py) x seeds 0-4, the minilm-table2 recipe (lr 1e-4, <= 6 "
                                  "epochs, patience 3), into bench/results/minilm-byom-example (~6 CPU-hours)",
                                  datasets=("trec-coarse", "trec-fine"), methods=("none", "amplify", BYOM_EXAMPLE),
                                  seeds=(0, 1, 2, 3, 4),
                                  options={"model": "minilm-l6", "epochs": 6, "patience": 3, "lr": 1e-4,
                                           "first_seeds": 3, "results": "bench/results/minilm-byom-example"}),
    "smoke": Preset("the tests' grid: tiny random model, TREC-coarse, none vs amplify, 2 seeds, 1 epoch on 200 "
                    "training and 100 dev/test examples at lr 1e-3 (seconds)",
                    datasets=("trec-coarse",), methods=("none", "amplify"), seeds=(0, 1),
                    options={"model": "tiny", "epochs": 1, "train_limit": 200, "eval_limit": 100, "lr": 1e-3,
                             "batch_size": 16, "max_length": 32}),
    "reduced": Preset("the CPU version of any --experiment: MiniLM, TREC-coarse, the five Table-2 methods, 2 seeds, "
                      "1 epoch at lr 5e-5", datasets=("trec-coarse",), seeds=(0, 1),
                      options={"model": "minilm-l6", "epochs": 1, "lr": 5e-5}),
}
