"""
What the suite's command lines share, so that a user never meets a traceback or loses work:

    fail(prog, message)      exit 2 with one line, "prog: error: message" (argparse's own form)
    entry(main)              runs a command's main(); a reader that went away (`... | head -1`) ends it quietly
    ArgumentParser           argparse's, with one-line errors
    check_out_dir(option, d) an output folder that can be made and written, checked before any work
    check_out_file(option, f) likewise for an output file

and the options of one training run, which run.py and bench.compare both take:

    add_train_args(parser)   the recipe, mixing, data and machinery options (defaults: TrainConfig's)
    config_from_args(args)   the TrainConfig those options describe
    names_epilog()           the "methods: ... / datasets: ..." lines of their --help

The lists of choices come from the modules that define them: methods from amplify/methods.py (METHODS),
datasets from data/sources.py (DATASETS), models from model/registry.py (MODELS).

`entry` and `ArgumentParser` live in data/common.py, so that data's own commands (data.stats, data.download)
share them.
"""

import argparse
import sys
from pathlib import Path

from amplify.results import check_writable
from data.common import ArgumentParser, entry  # noqa: F401 (data's commands use them too; data imports nothing here)


def fail(prog, message):
    """End the command: one line on stderr naming what was wrong and what to do, exit status 2."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(2)


def check_out_dir(prog, option, path):
    """Fail (exit 2) unless `path` is a folder that exists or can be made, and takes files."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} is a file, not a folder")
        check_writable(path / ".write-probe")
    except OSError as e:
        fail(prog, f"{option} {path}: cannot write there ({e.strerror or e}); choose another {option}")


def check_out_file(prog, option, path):
    """Fail (exit 2) unless a file can be written at `path` (its folder exists or can be made; not a folder)."""
    try:
        check_writable(path)
    except OSError as e:
        fail(prog, f"{option} {path}: cannot write there ({e.strerror or e}); choose another {option}")


def int_list(text):
    try:
        return [int(x) for x in text.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated block numbers like 4,8,12, got {text!r}") from None


def add_train_args(p):
    """The options of one run, in four groups (bench.compare reuses them for grids); defaults: TrainConfig's."""
    from amplify.train import TrainConfig

    d = TrainConfig()
    _recipe_args(p.add_argument_group("model and recipe (defaults: the paper's)"), d)
    _mixing_args(p.add_argument_group("mixing"), d)
    _data_args(p.add_argument_group("data"))
    _machinery_args(p.add_argument_group("machinery"))
    return p


def _recipe_args(g, d):
    """The backbone and the paper's recipe."""
    from model.registry import MODELS

    g.add_argument("--model", default=d.model, choices=MODELS, help="backbone (default %(default)s, offline)")
    g.add_argument("--weights", default=None, help="directory with config.json, vocab.txt, model.safetensors")
    g.add_argument("--epochs", type=int, default=d.epochs, help="at most this many epochs (%(default)s)")
    g.add_argument("--patience", type=int, default=d.patience,
                   help="early stopping: dev evaluations without a better dev accuracy (%(default)s)")
    g.add_argument("--step-budget", type=int, default=None, metavar="N",
                   help="train N optimiser steps instead of --epochs (as many epochs as that takes); the cosine "
                        "schedule spans them (the few-label budget, docs/fewshot.md)")
    g.add_argument("--eval-every", type=int, default=None, metavar="N",
                   help="evaluate dev after every N optimiser steps and after the last (default: each epoch's "
                        "end); the best evaluation's weights are tested once, at the end")
    g.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (%(default)s)")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="(%(default)s)")
    g.add_argument("--max-length", type=int, default=d.max_length, help="tokens per example (%(default)s)")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="(%(default)s)")
    g.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio, help="linear warm-up share (%(default)s)")
    g.add_argument("--max-grad-norm", type=float, default=None, help="clip gradients (off, as in the paper)")
    g.add_argument("--pooling", default=d.pooling, choices=("pooler", "mean"), help="sentence vector (%(default)s)")


def _mixing_args(g, d):
    """How the methods mix (and labelsmooth's ε, a user's method's options)."""
    from amplify.methods import Amplify, Method
    from amplify.user_methods import MethodOptions

    g.add_argument("--alpha", type=float, default=None,
                   help=f"Beta(α, α); default {Method.alpha}, AMPLIFY {Amplify.alpha}")
    g.add_argument("--n-draws", type=int, default=d.n_draws, help="AMPLIFY: λ = max of n draws (%(default)s)")
    g.add_argument("--amplify-layers", type=int_list, default=None, metavar="K,K", help="AMPLIFY blocks (all)")
    g.add_argument("--label-perm", default=d.label_perm, choices=("same", "independent"),
                   help="'independent' = the baselines' released-code label pairing (default %(default)s)")
    g.add_argument("--mix-epochs", type=int_list, default=None, metavar="E,E",
                   help="mix only in these epochs, 1-based (Mixup-Transformer's dynamic mixup; default all)")
    g.add_argument("--ssmix-clean-loss", action="store_true",
                   help="ssmix: loss = ½(clean CE + mixed loss), as the reference code (default: mixed loss only)")
    g.add_argument("--label-smoothing", type=float, default=None, metavar="EPS",
                   help="labelsmooth: ε (default E[1-λ] of AMPLIFY's λ = 0.0384)")
    g.add_argument("--method-option", dest="method_options", nargs="+", action=MethodOptions, default=None,
                   metavar="KEY=VALUE", help="options of a method of your own, passed to its constructor")


def _data_args(g):
    """Where the data is, and which examples train."""
    from data.common import DATA_DIR_HELP
    from data.noise import KINDS as NOISE_KINDS

    g.add_argument("--data-dir", default=None, help=f"datasets root ({DATA_DIR_HELP})")
    g.add_argument("--cache-dir", default=None, help="token-id cache (default ~/.cache/amplify/tokens)")
    g.add_argument("--noise", default=None, choices=NOISE_KINDS,
                   help="corrupt training texts (data/noise.py defines each)")
    g.add_argument("--noise-p", type=float, default=0.0, help="share of words deleted / swapped")
    g.add_argument("--train-limit", type=int, default=None, help="fixed random subset of train (quick runs)")
    g.add_argument("--eval-limit", type=int, default=None, help="fixed random subset of dev and test")
    g.add_argument("--shots", type=int, default=None, metavar="K",
                   help="few-label training: K examples per class from train and K per class from dev, drawn by "
                        "--seed (seeds 0-4 = five draws, the same for every method); test stays the full official "
                        "split (data/fewshot.py; python -m data.fewshot prints a draw's class counts)")
    g.add_argument("--bucket", action="store_true", help="length-bucketed batches (faster)")


def _machinery_args(g):
    """Device, threads, and the switches for timing and debugging."""
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: $OMP_NUM_THREADS, else the cores not busy when the run starts; "
                        "amplify/threads.py says why)")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    g.add_argument("--random-init", action="store_true", help="skip pretrained weights (timing only)")
    g.add_argument("--eval-test-each-epoch", action="store_true",
                   help="evaluate test after every epoch too (default: once, on the best-dev epoch's weights)")


def config_from_args(args, **overrides):
    """The TrainConfig the parsed options of add_train_args describe; `overrides` set fields the caller owns
    (a grid's method, dataset, seed)."""
    from amplify.train import TrainConfig

    fields = set(TrainConfig.__dataclass_fields__)
    kw = {k: v for k, v in vars(args).items() if k in fields}
    kw["pretrained"] = not getattr(args, "random_init", False)
    kw.update(overrides)
    return TrainConfig(**kw)


def names_epilog():
    """The built-in methods and the datasets, as the last lines of a --help."""
    from amplify.methods import METHODS
    from data import DATASETS

    return f"methods: {', '.join(METHODS)}\ndatasets: {', '.join(DATASETS)}"
