"""
One fine-tuning run: python run.py --method amplify --dataset trec-fine

Trains, prints a line per epoch, and writes one JSON result atomically (config, per-epoch metrics,
best-dev epoch, test accuracy and macro-F1 there, per-example test predictions, timings, memory,
device, versions, git commit). --save-model DIR also writes the fine-tuned classifier (amplify/export.py);
every step's loss, lr and λ go to OUT.steps.csv, and with --tensorboard DIR to TensorBoard too (amplify/logs.py).
"""

import argparse
import sys
import tempfile
from pathlib import Path

DATASETS = ("trec-coarse", "trec-fine", "sst-2", "sst-5", "mrpc", "imdb", "yelp-5")
METHODS = ("none", "embedmix", "sentmix", "tmix", "manifold", "amplify", "mixup-transformer", "ssmix", "labelsmooth")
MODELS = ("minilm-l6", "bert-base-uncased", "distilbert-base-uncased", "tiny")


def int_list(text):
    try:
        return [int(x) for x in text.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated block numbers like 4,8,12, got {text!r}") from None


def add_train_args(p):
    """The options of one run (bench.compare reuses them for grids)."""
    from amplify.train import TrainConfig
    from amplify.user_methods import MethodOptions
    from data.common import DATA_DIR_HELP

    d = TrainConfig()
    g = p.add_argument_group("model and recipe (defaults: the paper's)")
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
    g = p.add_argument_group("mixing")
    g.add_argument("--alpha", type=float, default=None, help="Beta(α, α); default 0.2, AMPLIFY 0.1")
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
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", default=None, help=f"datasets root ({DATA_DIR_HELP})")
    g.add_argument("--cache-dir", default=None, help="token-id cache (default ~/.cache/amplify/tokens)")
    g.add_argument("--noise", default=None, choices=("delete", "swap", "swap-adjacent"),
                   help="corrupt training texts (data/noise.py defines each)")
    g.add_argument("--noise-p", type=float, default=0.0, help="share of words deleted / swapped")
    g.add_argument("--train-limit", type=int, default=None, help="fixed random subset of train (quick runs)")
    g.add_argument("--eval-limit", type=int, default=None, help="fixed random subset of dev and test")
    g.add_argument("--shots", type=int, default=None, metavar="K",
                   help="few-label training: K examples per class from train and K per class from dev, drawn by "
                        "--seed (seeds 0-4 = five draws, the same for every method); test stays the full official "
                        "split (data/fewshot.py; python -m data.fewshot prints a draw's class counts)")
    g.add_argument("--bucket", action="store_true", help="length-bucketed batches (faster)")
    g = p.add_argument_group("machinery")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: $OMP_NUM_THREADS, else the cores not busy when the run starts; "
                        "amplify/threads.py says why)")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    g.add_argument("--random-init", action="store_true", help="skip pretrained weights (timing only)")
    g.add_argument("--eval-test-each-epoch", action="store_true",
                   help="evaluate test after every epoch too (default: once, on the best-dev epoch's weights)")
    return p


def config_from_args(args, **overrides):
    from amplify.train import TrainConfig

    fields = set(TrainConfig.__dataclass_fields__)
    kw = {k: v for k, v in vars(args).items() if k in fields}
    kw["pretrained"] = not getattr(args, "random_init", False)
    kw.update(overrides)
    return TrainConfig(**kw)


def check_not_replacing(out, cfg):
    """Exit 2, before training, if `out` holds something a run of `cfg` must not replace: a result of another
    config, or a file that is not a run.py result at all."""
    from dataclasses import asdict

    from amplify.checkpoint import differences
    from amplify.cli import fail
    from amplify.results import read_json
    from amplify.train import NOT_COMPUTED

    if not out.exists():
        return
    old = read_json(out)
    if not isinstance(old, dict) or not isinstance(old.get("config"), dict):
        fail("run.py", f"--out {out} exists and is not a result of run.py; give another --out, or --overwrite "
                       "to replace it")
    diff = differences(asdict(cfg), old["config"], ignore=NOT_COMPUTED)
    if diff:
        shown = ", ".join(f"{k} {old['config'].get(k)!r} there, {asdict(cfg).get(k)!r} now" for k in diff[:3])
        fail("run.py", f"--out {out} holds the result of another config ({shown}); give another --out, "
                       "or --overwrite to replace it")


def main(argv=None):
    from amplify.cli import ArgumentParser
    from amplify.user_methods import label, method_arg

    p = ArgumentParser(
        prog="run.py",
        description="Fine-tune BERT with one mixup method and write a JSON result.",
        epilog=f"methods: {', '.join(METHODS)}\ndatasets: {', '.join(DATASETS)}\n\n"
               "environment: AMPLIFY_DATA_DIR the datasets root; AMPLIFY_MALLOC=default leaves glibc's malloc as it\n"
               "is (a run otherwise keeps freed memory for the next step: same numbers, fewer page faults;\n"
               "amplify/allocator.py)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--method", default="amplify", type=method_arg,
                   help="mixup method (%(default)s), or one of your own: path/to/file.py:Class or "
                        "package.module:Class (docs/adding-a-method.md)")
    p.add_argument("--dataset", default="trec-coarse", choices=DATASETS, help="(%(default)s)")
    p.add_argument("--seed", type=int, default=0, help="(%(default)s)")
    p.add_argument("--out", default=None,
                   help="result JSON (default results/runs/DATASET-METHOD-sSEED.json). A file there from another "
                        "config (another --lr, ...), or not a result of run.py, is never replaced: the run refuses "
                        "before training; give another --out, or --overwrite. The same config's result is replaced")
    p.add_argument("--overwrite", action="store_true",
                   help="replace whatever --out holds (default: only a result of the same config)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--save-model", default=None, metavar="DIR",
                   help="write the fine-tuned classifier at its best-dev epoch to DIR, in Hugging Face's layout "
                        "(model.safetensors, config.json, vocab.txt; amplify/export.py). DIR must be new, empty, "
                        "or a model saved there earlier with nothing else in it; else the run refuses before training")
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="TensorBoard logs to DIR: per-step loss, lr, λ; per-epoch dev/test accuracy (optional "
                        "package: pip install -r requirements-tensorboard.txt). Every run also writes its steps "
                        "to a CSV beside the result JSON (OUT.steps.csv)")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="neither write nor read OUT.ckpt.pt (default: each finished epoch saves the run's state "
                        "there, and the same command after a kill continues from it with the same numbers; "
                        "removed when the result is written; amplify/checkpoint.py)")
    add_train_args(p)
    args = p.parse_args(argv)

    import torch

    from amplify.checkpoint import checkpoint_path, discard, saved_at
    from amplify.cli import check_out_file, fail
    from amplify.logs import check_tensorboard, steps_csv_path
    from amplify.results import write_json_or_fallback
    from amplify.threads import pick_threads
    from amplify.train import train
    from data import DataFormatError, DataMissingError
    from model.registry import ModelNotFound

    try:
        cfg = config_from_args(args, seed=args.seed, method=args.method, dataset=args.dataset).validate()
    except ValueError as e:
        fail("run.py", e)
    out = Path(args.out or f"results/runs/{args.dataset}-{label(args.method)}-s{args.seed}.json")
    check_out_file("run.py", "--out", out)
    if not args.overwrite:
        check_not_replacing(out, cfg)
    if args.save_model:
        from amplify.export import check_model_dir

        try:
            check_model_dir(args.save_model)
        except OSError as e:
            fail("run.py", f"--save-model {e}")
    if args.tensorboard:
        try:
            check_tensorboard()
        except ImportError as e:
            fail("run.py", e)
    checkpoint = None if args.no_checkpoint else checkpoint_path(out)
    try:
        torch.set_num_threads(pick_threads(args.threads))
        result = train(cfg, out=None, progress=not args.quiet, save_model=args.save_model,
                       steps_csv=steps_csv_path(out), tensorboard=args.tensorboard, checkpoint=checkpoint)
    except (ValueError, ModelNotFound, DataFormatError, DataMissingError, OSError) as e:
        fail("run.py", e)
    except KeyboardInterrupt:
        done = saved_at(checkpoint) if checkpoint else None
        kept = f"; the same command continues after {done} ({checkpoint})" if done else ""
        p.exit(130, f"\nrun.py: interrupted; no result written{kept}\n")
    try:
        written, error = write_json_or_fallback(out, result)
    except OSError as e:  # neither --out nor the temporary directory takes it: the checkpoint stays, to rerun
        fail("run.py", f"could not write the result to {out} nor to {tempfile.gettempdir()} ({e.strerror or e}); "
                       "free some space and run the same command again (it resumes from the last checkpoint)")
    discard(checkpoint)
    if error is not None:
        print(f"run.py: could not write {out} ({error}); the result is saved in {written}", file=sys.stderr)
        out = written
    if result["status"] != "ok":
        print(f"run failed: {result['error']} (result in {out})", file=sys.stderr)
        return 1
    at = f"step {result['best_step']}" if cfg.eval_every else f"epoch {result['best_epoch']}"
    print(f"{cfg.method} on {cfg.dataset} (seed {cfg.seed}): test accuracy {result['test_acc']:.4f}, "
          f"macro-F1 {result['test_f1']:.4f} at {at} (best dev {result['best_dev_acc']:.4f}); "
          f"{result['wall_time_s']:.0f}s, {result['mean_step_s'] * 1000:.0f} ms/step -> {out}")
    if result.get("saved_model"):
        print(f"model at epoch {result['best_epoch']} saved to {result['saved_model']}", file=sys.stderr)
    return 0 if error is None else 1


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
