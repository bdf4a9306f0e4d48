"""
A whole run, ours against Hugging Face's: one `run.py` run and the same run as a plain training loop around
Hugging Face's BertForSequenceClassification, each a fresh process timed from its start to its exit.

    python -m bench.speed.whole_run                                    # TREC-fine, 1 epoch, 2 rounds
    python -m bench.speed.whole_run --dataset mrpc --epochs 2 --rounds 1

Ways (every one a child process: start, model load, tokenising from the cache, training, dev after every
epoch, test once at the best-dev epoch, the JSON write):
  ours       python run.py --method none, with the same options and --threads
  hf         this file with --hf-child default: the same data and batches (our Batcher: shuffled by the seed,
             unbucketed, each padded to its longest example: dynamic padding), the same schedule (warm-up then
             cosine), loss, decay groups, patience and evaluation (our `evaluate`, bucketed), the best-dev
             weights kept in memory for the test as ours; but Hugging Face's model (SDPA attention, loaded with
             from_pretrained from the same directory) and torch.optim.AdamW with its default implementation
  hf-fused   the same with torch.optim.AdamW(fused=True)
One untimed warm-up of each way first (2 steps, 32 dev/test examples: the token cache, the page cache and
ours' compiled optimiser in the inductor cache), then --rounds rounds, each running every way once, in an
order rotated by one each round (a noisy neighbour then hits every way alike).

Reported per way: wall seconds per run (median over rounds), training seconds (the step loops only), real
(non-padding) training tokens per second of wall time and of training time, test accuracy (dropout masks and
arithmetic differ between the ways: accuracies alike, not equal), and the wall time relative to ours, the
median of per-round ratios. Output: a table and a JSON (results/whole-run-*.json, or --out) with the machine,
the load average before and after, the versions and the commit.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from amplify.results import REPO, environment, write_json_atomic

WAYS = ("ours", "hf", "hf-fused")


# ----------------------------------------------------------------------------------------------------
# the Hugging Face run (a child process)


def hf_run(args):
    """The `hf` / `hf-fused` way: run.py's run with Hugging Face's model and torch's AdamW."""
    import copy

    import torch
    import torch.nn.functional as F

    from amplify.allocator import keep_freed_memory
    from amplify.cli import config_from_args
    from amplify.optim import cosine_with_warmup, param_groups, set_lr, warmup_steps
    from amplify.train import autocast_for, evaluate, prepare_data, total_steps
    from bench.speed.variants import import_transformers
    from data import load_dataset
    from data.batching import Batcher
    from model.registry import model_dir
    from model.tokenizer import WordPieceTokenizer

    t_start = time.perf_counter()
    transformers = import_transformers()
    if transformers is None:
        raise SystemExit("the hf ways need transformers: pip install -r requirements-dev.txt")
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as run.py's train() does: both ways share the allocator, so code alone differs
    cfg = config_from_args(args, method="none", seed=args.seed, dataset=args.dataset).validate()
    torch.manual_seed(cfg.seed)
    device, amp = torch.device("cpu"), autocast_for(torch.device("cpu"))
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir)
    d = model_dir(cfg.model, cfg.weights)
    data = prepare_data(cfg, ds, WordPieceTokenizer.from_dir(d, max_length=cfg.max_length))
    hf = transformers.BertForSequenceClassification.from_pretrained(
        d, num_labels=ds.num_labels, attn_implementation="sdpa")

    class Logits(torch.nn.Module):  # what our evaluate() calls: model(ids, mask, types) -> logits
        def __init__(self, hf):
            super().__init__()
            self.hf = hf

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.hf(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    model = Logits(hf)
    opt = torch.optim.AdamW(param_groups(hf, cfg.weight_decay), lr=cfg.lr, eps=cfg.eps,
                            weight_decay=cfg.weight_decay, fused=args.hf_child == "fused")
    batcher = Batcher(data.train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, bucket=cfg.bucket)
    total = total_steps(cfg, len(batcher))
    warm = warmup_steps(total, cfg.warmup_ratio)
    step, train_time, best, since_best, best_state = 0, 0.0, None, 0, None
    for epoch in range(cfg.epochs):
        hf.train()
        t0 = time.perf_counter()
        for batch in batcher.epoch(epoch):
            set_lr(opt, cosine_with_warmup(step, total, warm, cfg.lr))
            logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            loss = F.cross_entropy(logits.float(), batch["labels"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step >= total:
                break
        train_time += time.perf_counter() - t0
        dev = evaluate(model, data.dev, cfg, device, amp)
        if best is None or dev["acc"] > best["dev_acc"]:
            best, since_best = {"epoch": epoch + 1, "dev_acc": dev["acc"]}, 0
            best_state = copy.deepcopy(hf.state_dict())
        else:
            since_best += 1
        if since_best >= cfg.patience or step >= total:
            break
    hf.load_state_dict(best_state)
    test = evaluate(model, data.test, cfg, device, amp)
    result = {"status": "ok", "way": f"hf-{args.hf_child}", "best_epoch": best["epoch"],
              "best_dev_acc": best["dev_acc"], "test_acc": test["acc"], "steps": step, "train_time_s": train_time,
              "wall_time_s": time.perf_counter() - t_start}
    write_json_atomic(Path(args.out), result)


# ----------------------------------------------------------------------------------------------------
# the benchmark


def run_args(a, out, warm_up=False):
    """The options both kinds of run take (run.py's own)."""
    args = ["--dataset", a.dataset, "--method", "none", "--seed", str(a.seed), "--epochs", str(a.epochs),
            "--lr", str(a.lr), "--patience", str(a.patience), "--threads", str(a.threads), "--quiet",
            "--out", str(out)]
    if a.data_dir:
        args += ["--data-dir", a.data_dir]
    if a.train_limit:
        args += ["--train-limit", str(a.train_limit)]
    if warm_up or a.eval_limit:
        args += ["--eval-limit", "32" if warm_up else str(a.eval_limit)]
    if warm_up:
        args += ["--max-steps", "2"]
    return args


def run_way(way, a, out, warm_up=False):
    """Run one way as a child process; returns (wall seconds, its result JSON)."""
    if way == "ours":
        cmd = [sys.executable, "run.py", *run_args(a, out, warm_up)]
    else:
        kind = "fused" if way == "hf-fused" else "default"
        cmd = [sys.executable, "-m", "bench.speed.whole_run", "--hf-child", kind, *run_args(a, out, warm_up)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"{way}: {' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-3000:]}")
    result = json.loads(out.read_text())
    if result.get("status") != "ok":
        raise SystemExit(f"{way}: the run did not finish: {result.get('error')}")
    return wall, result


def train_tokens(a):
    """(real training tokens per epoch, batches per epoch), from the token cache run.py fills."""
    from amplify.train import TrainConfig, prepare_data
    from data import load_dataset
    from data.batching import Batcher
    from model.registry import model_dir
    from model.tokenizer import WordPieceTokenizer

    cfg = TrainConfig(dataset=a.dataset, data_dir=a.data_dir, train_limit=a.train_limit, eval_limit=a.eval_limit)
    data = prepare_data(cfg, load_dataset(a.dataset, data_dir=a.data_dir),
                        WordPieceTokenizer.from_dir(model_dir(cfg.model), max_length=cfg.max_length))
    return int(data.train.lengths.sum()), len(Batcher(data.train, batch_size=cfg.batch_size))


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.speed.whole_run", description=__doc__.split("\n\n")[0].strip(),
                                epilog="\n\n".join(__doc__.split("\n\n")[2:4]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="trec-fine", help="(%(default)s)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per run (%(default)s)")
    p.add_argument("--lr", type=float, default=1e-4,
                   help="peak learning rate (%(default)s: the minilm-table2 recipe's)")
    p.add_argument("--patience", type=int, default=3, help="early stopping on dev accuracy (%(default)s)")
    p.add_argument("--seed", type=int, default=0, help="(%(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of every run (%(default)s)")
    p.add_argument("--data-dir", default=None, help="datasets root (else $AMPLIFY_DATA_DIR, else ~/.cache/amplify)")
    p.add_argument("--train-limit", type=int, default=None, help="fixed random subset of train (default: all)")
    p.add_argument("--eval-limit", type=int, default=None, help="fixed random subset of dev and test (default: all)")
    p.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS, help="(%(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="rounds, each running every way once (%(default)s)")
    p.add_argument("--out", default=None, help="JSON path (default results/whole-run-DATASET-eEPOCHS.json)")
    p.add_argument("--hf-child", choices=("default", "fused"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default="none", help=argparse.SUPPRESS)  # the children's options (run.py's)
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    return a


def main(argv=None):
    a = parse_args(argv)
    if a.hf_child:
        return hf_run(a)
    env = environment()  # at the start: the code that runs
    tokens, n_batches = train_tokens(a)
    scratch = Path(tempfile.mkdtemp(prefix="whole-run-"))
    walls, results = {w: [] for w in a.ways}, {w: [] for w in a.ways}
    try:
        for w in a.ways:
            run_way(w, a, scratch / f"warm-{w}.json", warm_up=True)
        load_before = os.getloadavg()
        for r in range(a.rounds):
            order = a.ways[r % len(a.ways):] + a.ways[:r % len(a.ways)]
            for w in order:
                wall, res = run_way(w, a, scratch / f"r{r}-{w}.json")
                walls[w].append(wall)
                results[w].append(res)
                print(f"round {r + 1}/{a.rounds} {w}: {wall:.1f} s (training {res['train_time_s']:.1f} s), "
                      f"test acc {res['test_acc']:.4f}", file=sys.stderr, flush=True)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for w in a.ways:
        real = [tokens * res["steps"] / n_batches for res in results[w]]  # real tokens trained per run
        train_s = [res["train_time_s"] for res in results[w]]
        rows.append({"way": w, "wall_s": walls[w], "train_s": train_s,
                     "wall_s_median": statistics.median(walls[w]), "train_s_median": statistics.median(train_s),
                     "real_tokens_per_wall_s": statistics.median(t / s for t, s in zip(real, walls[w], strict=True)),
                     "real_tokens_per_train_s": statistics.median(t / s for t, s in zip(real, train_s, strict=True)),
                     "test_acc": [res["test_acc"] for res in results[w]],
                     "wall_vs_ours": statistics.median(x / y for x, y in zip(walls[w], walls["ours"], strict=True))
                     if "ours" in walls else None})
    print(tabulate([[r["way"], f"{r['wall_s_median']:.1f}", f"{r['train_s_median']:.1f}",
                     f"{r['real_tokens_per_wall_s']:,.0f}", f"{r['real_tokens_per_train_s']:,.0f}",
                     " ".join(f"{x:.4f}" for x in r["test_acc"]),
                     "n/a" if r["wall_vs_ours"] is None else f"{r['wall_vs_ours']:.3f}"] for r in rows],
                   headers=["way", "wall s/run", "training s", "real tokens/s (wall)", "real tokens/s (training)",
                            "test acc", "wall vs ours"], tablefmt="github", disable_numparse=True))
    result = {"schema": 1, "benchmark": "whole-run", "command": " ".join(["python -m bench.speed.whole_run", *a.argv]),
              "dataset": a.dataset, "epochs": a.epochs, "lr": a.lr, "seed": a.seed, "threads": a.threads,
              "rounds": a.rounds, "train_real_tokens_per_epoch": tokens, "batches_per_epoch": n_batches,
              "cpu_count": os.cpu_count(), "load_avg_1min": {"before": load_before[0], "after": load_after[0]},
              "ways": rows, "env": env}
    out = Path(a.out) if a.out else REPO / "results" / f"whole-run-{a.dataset}-e{a.epochs}.json"
    write_json_atomic(out, result)
    print(f"wrote {out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
