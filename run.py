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

from amplify.cli import ArgumentParser, add_train_args, check_out_file, config_from_args, fail, names_epilog


def build_parser():
    """run.py's own options (what to run, where the result goes), then every option of a run (amplify/cli.py)."""
    from amplify.user_methods import method_arg
    from data import DATASETS

    p = ArgumentParser(
        prog="run.py",
        description="Fine-tune BERT with one mixup method and write a JSON result.",
        epilog=f"{names_epilog()}\n\n"
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
    return add_train_args(p)


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


def check_outputs(args, cfg, out):
    """Exit 2, before any training, if the run could not put its result, model or logs where they are asked."""
    from amplify.logs import check_tensorboard

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


def train_run(p, args, cfg, out, checkpoint):
    """Train; a bad input ends the command in one line (exit 2), Ctrl-C says where the checkpoint is (exit 130)."""
    import torch

    from amplify.checkpoint import saved_at
    from amplify.logs import steps_csv_path
    from amplify.threads import pick_threads
    from amplify.train import train
    from data import DataFormatError, DataMissingError
    from model.registry import ModelNotFound

    try:
        torch.set_num_threads(pick_threads(args.threads))
        return train(cfg, out=None, progress=not args.quiet, save_model=args.save_model,
                     steps_csv=steps_csv_path(out), tensorboard=args.tensorboard, checkpoint=checkpoint)
    except (ValueError, ModelNotFound, DataFormatError, DataMissingError, OSError) as e:
        fail("run.py", e)
    except KeyboardInterrupt:
        done = saved_at(checkpoint) if checkpoint else None
        kept = f"; the same command continues after {done} ({checkpoint})" if done else ""
        p.exit(130, f"\nrun.py: interrupted; no result written{kept}\n")


def write_result(out, result, checkpoint):
    """Write the result to `out`, else to the temporary directory (saying so); then drop the checkpoint.
    Returns (the path written, the error that kept it from `out` or None)."""
    from amplify.checkpoint import discard
    from amplify.results import write_json_or_fallback

    try:
        written, error = write_json_or_fallback(out, result)
    except OSError as e:  # neither --out nor the temporary directory takes it: the checkpoint stays, to rerun
        fail("run.py", f"could not write the result to {out} nor to {tempfile.gettempdir()} ({e.strerror or e}); "
                       "free some space and run the same command again (it resumes from the last checkpoint)")
    discard(checkpoint)
    if error is not None:
        print(f"run.py: could not write {out} ({error}); the result is saved in {written}", file=sys.stderr)
    return written, error


def print_summary(cfg, result, out):
    """The run's one line on stdout (test accuracy and macro-F1 at the best dev evaluation, time, file)."""
    at = f"step {result['best_step']}" if cfg.eval_every else f"epoch {result['best_epoch']}"
    print(f"{cfg.method} on {cfg.dataset} (seed {cfg.seed}): test accuracy {result['test_acc']:.4f}, "
          f"macro-F1 {result['test_f1']:.4f} at {at} (best dev {result['best_dev_acc']:.4f}); "
          f"{result['wall_time_s']:.0f}s, {result['mean_step_s'] * 1000:.0f} ms/step -> {out}")
    if result.get("saved_model"):
        print(f"model at epoch {result['best_epoch']} saved to {result['saved_model']}", file=sys.stderr)


def main(argv=None):
    from amplify.checkpoint import checkpoint_path
    from amplify.user_methods import label

    p = build_parser()
    args = p.parse_args(argv)
    try:
        cfg = config_from_args(args, seed=args.seed, method=args.method, dataset=args.dataset).validate()
    except ValueError as e:
        fail("run.py", e)
    out = Path(args.out or f"results/runs/{args.dataset}-{label(args.method)}-s{args.seed}.json")
    check_outputs(args, cfg, out)
    checkpoint = None if args.no_checkpoint else checkpoint_path(out)
    result = train_run(p, args, cfg, out, checkpoint)
    out, error = write_result(out, result, checkpoint)
    if result["status"] != "ok":
        print(f"run failed: {result['error']} (result in {out})", file=sys.stderr)
        return 1
    print_summary(cfg, result, out)
    return 0 if error is None else 1


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
