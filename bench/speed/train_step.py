"""
How long one training step takes: every mixup method, and Hugging Face's BERT beside ours.

    python -m bench.speed --model minilm-l6 --batch-size 32 --seq-len 64
    python -m bench.speed --model minilm-l6 --data trec-fine --steps 20    # real batches
    python -m bench.speed --model minilm-l6 --data trec-fine --epoch --methods none   # one whole epoch
    python -m bench.speed --model bert-base-uncased --random-init --device cuda

One step = what a training loop does per batch: the forward pass (with the method's mixing), the loss,
`zero_grad`, the backward pass and the optimiser update. For our model that is exactly
`amplify.train.train_step` with our `AdamW`, so the number measured is the number a run pays. The
reference ("hf") is `transformers.BertForSequenceClassification` with `attn_implementation="sdpa"` and
`torch.optim.AdamW` (fused on CUDA, torch's default implementation on CPU; on CPU a second reference,
"hf-fused", has `fused=True`), holding a copy of OUR
state dict (so: the same weights, checked by comparing eval-mode logits), fed the same batch, with the
same loss and the same decay/no-decay parameter groups. Dtype is the training loop's: bf16 autocast
on CUDA, fp32 on CPU, for both. Dropout stays on (training mode) for both.

Measurement (read this before trusting a ratio):
  - the batch is random token ids at full length (no padding) unless `--pad-frac p`, which makes the
    last round(p·T) positions of every row padding, or `--data DATASET`: real training batches as a
    run makes them (shuffled by --seed, not bucketed, each padded to its own longest example: Hugging
    Face's dynamic padding), timed round i on batch i; `--epoch` times every batch of one epoch once.
    HF computes every padded position; ours, on CPU, only the positions the step reads (model/bert.py,
    padding-free), so padding changes our work and not HF's.
  - `--warmup` untimed rounds, then `--steps` timed rounds. A round is one step of every variant,
    round-robin, starting one variant later each round: [hf, none, embedmix, ...], [none, embedmix,
    ..., hf], ... A 2-core shared machine drifts by several per cent over a minute; interleaving makes
    the drift hit every variant alike, which measuring variants one after another would not.
  - time.perf_counter around each step, with torch.cuda.synchronize before and after on CUDA (the GPU
    runs asynchronously; without the sync we would time the kernel launches, not the kernels).
  - we report the median step time and the interquartile range (q1..q3) per variant: a few slow steps
    (another process, a page fault) move the mean but not the median. "ratio vs HF" and "ratio vs
    none" (< 1 = faster) are medians of per-round ratios: each round's step of a variant divided by
    the same round's step of the reference, taken seconds apart, so drift between rounds cancels.
    On a loaded machine that is far steadier than the ratio of the two medians, which the JSON also
    holds (`ratio_of_medians_vs_*`), with the per-round ratios' quartiles (`ratio_vs_*_iqr`).
  - each method draws λ and partners from its own `seeded_generators(--seed)`: the same draws every
    run. Dropout uses torch's global RNG (seeded once).
  - peak memory = the step's peak above what was resident before it (activations, gradients,
    optimiser temporaries; not the weights and optimiser state, listed separately as "resident").
    CUDA: torch.cuda.max_memory_allocated, reset before every step. CPU: torch has no allocator
    counter, and the process's peak RSS serves badly (it only ever grows, per process, and how much a
    step adds depends on what glibc kept from earlier steps); instead one extra, untimed step per
    variant runs under torch.profiler with profile_memory=True and we add up its allocation and free
    records in time order. That counts tensor memory from torch's allocator, as the CUDA counter does.
  - on CPU we also record each step's process CPU time (time.process_time). It does not count time
    spent waiting for a core, so on a shared machine its ratios are steadier than wall-clock ones
    (it does count OpenMP threads spinning while they wait for each other).
  - threads: `--threads` (default: every core this process may use) is recorded. On a machine whose
    cores other processes also use, OpenMP's threads wait for each other at every op: we measured
    the tiny model at 20 ms/step with 1 thread and 1.5 s with 2 on a loaded 2-core box, MiniLM
    at ~3 s vs ~6-9 s. The command warns when the load average says so.
  - tokens/s counts all B·T positions; real tokens/s only the non-padding ones (over all timed rounds:
    with --epoch, the epoch's). MFU = useful FLOPs per second / peak, useful FLOPs = the real tokens'
    sum of n·(6N + 12·L·d·n) per example of length n (Kaplan et al. 2020; the PaLM paper's appendix B);
    N excludes the word-embedding table (a lookup, not a matmul). The peak: on CUDA the device's dense
    bf16 data-sheet peak; on CPU the best FLOP rate this machine reaches, at this thread count, on the
    model's own GEMMs (forward and both backward products of each linear layer at the batch's typical
    number of real tokens), measured at the start of every timed round: each round's steps are set
    against their own round's peak and MFU is the median over the rounds, as the ratios are (a shared
    CPU's rate moves from minute to minute). `--peak-tflops` overrides either.
  - the optimiser step alone (`--optimizer-rounds`): our AdamW against torch.optim.AdamW fused and
    default, each on its own copy of the model's parameters and last gradients, interleaved.

Targets (the project's speed goals; reported, not asserted): our `none` step ≤ 0.8× HF + fused AdamW at 32 × 64 and on
real TREC-fine batches, ≤ 0.6× HF + default AdamW on real TREC-fine batches; our optimiser step ≤ 1.3×
torch's fused AdamW; every method ≤ 1.05× `none` (AMPLIFY ≤ 1.03×); CPU MFU ≥ 70%.

Results: the table and the targets on stdout, progress and notes on stderr, and a JSON (`--out`, default
results/speed-{device}-{model}-b{B}-t{T}.json, gitignored; the README's numbers are in bench/results/)
with every step time, the summary, device, dtype, threads, load average, versions and git commit.
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from amplify.allocator import keep_freed_memory
from amplify.cli import ArgumentParser, check_out_file, fail
from amplify.methods import METHODS, make_method
from amplify.optim import AdamW, param_groups
from amplify.results import REPO, environment, lost_write, write_json_or_fallback
from amplify.train import autocast_for, resolve_device
from bench.speed.mfu import GemmPeak, lookup_peak_tflops, useful_flops
from bench.speed.timing import Variant, cpu_step_peak_mb, measure, quartiles, summarize, tensor_mb
from bench.speed.variants import (
    Feed,
    build_hf,
    build_ours,
    import_transformers,
    make_hf_step,
    make_our_step,
    parity,
    random_batch,
    real_batches,
    time_optimizers,
)
from data.sources import DATASETS
from model.registry import MODELS, ModelNotFound

PROG = "python -m bench.speed"

# ----------------------------------------------------------------------------------------------------
# the table and the targets


def target_lines(rows, key="ratio_vs"):
    """The two targets, in words: ours vs HF, and the costliest method vs none."""
    lines = []

    def says(row, ref):
        q1, q3 = row[f"{key}_{ref}_iqr"]
        return f"{row[f'{key}_{ref}']:.3f}x (per-round IQR {q1:.3f}-{q3:.3f})"

    if "none" in rows and "hf" in rows:
        lines.append(f"ours (none) vs HF: {says(rows['none'], 'hf')}  target <= 0.8 (vs HF + fused AdamW), "
                     "<= 0.6 on real TREC-fine batches (vs HF + default AdamW)")
    if "none" in rows and "hf-fused" in rows:
        lines.append(f"ours (none) vs HF + fused AdamW: {says(rows['none'], 'hf-fused')}  target <= 0.8")
    mixers = {k: r[f"{key}_none"] for k, r in rows.items() if k not in ("none", "hf", "hf-fused") and r[f"{key}_none"]}
    if mixers:
        worst = max(mixers, key=mixers.get)
        total = ""
        if key == "ratio_vs" and rows["none"]["total_s"]:  # what a run pays: a method's steps can be of two kinds
            total = f", total over the rounds {rows[worst]['total_s'] / rows['none']['total_s']:.3f}x"
        lines.append(f"costliest method vs none: {worst} {says(rows[worst], 'none')}{total}  target <= 1.05")
    return lines


def fmt(x, spec):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def table(rows, show_mfu):
    head = ["variant", "ms/step (median)", "IQR", "total s", "real tokens/s", "samples/s", "peak mem (MiB)",
            "ratio vs HF", "vs HF fused", "ratio vs none"] + (["MFU"] if show_mfu else [])
    body = []
    for name, r in rows.items():
        line = [name, fmt(r["ms_median"], ".1f"), fmt(r["ms_iqr"], ".1f"), fmt(r["total_s"], ".1f"),
                fmt(r["real_tokens_per_s"], ",.0f"), fmt(r["samples_per_s"], ",.1f"), fmt(r["peak_mem_mb"], ",.0f"),
                fmt(r["ratio_vs_hf"], ".3f"), fmt(r.get("ratio_vs_hf-fused"), ".3f"), fmt(r["ratio_vs_none"], ".3f")]
        if show_mfu:
            line.append("n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%")
        body.append(line)
    return tabulate(body, headers=head, tablefmt="github", disable_numparse=True)


def cpu_model():
    """The CPU's model name (Linux /proc/cpuinfo), for the record; "cpu" where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def device_slug(device):
    if device.type != "cuda":
        return device.type
    name = torch.cuda.get_device_name(device).lower().replace("nvidia", "")
    return "-".join("".join(c if c.isalnum() else " " for c in name).split()) or "cuda"


# ----------------------------------------------------------------------------------------------------
# the command


def parse_args(argv=None):
    p = ArgumentParser(
        prog=PROG,
        description="Time one training step (forward, backward, optimiser) of every mixup method, and of "
        "Hugging Face's BertForSequenceClassification + torch.optim.AdamW on the same weights and batch.",
    )
    p.add_argument("--model", default="minilm-l6", choices=MODELS, help="backbone to time (%(default)s)")
    p.add_argument("--weights", default=None, help="directory with config.json and model.safetensors")
    p.add_argument("--random-init", action="store_true", help="random weights of the model's shape (timing needs "
                   "no pretrained weights; bert-base-uncased then needs no download)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step (%(default)s)")
    p.add_argument("--seq-len", type=int, default=128,
                   help="tokens per example (full length; random batches; %(default)s)")
    p.add_argument("--pad-frac", type=float, default=0.0,
                   help="share of every row that is padding (random batches; %(default)s)")
    p.add_argument("--data", default=None, metavar="DATASET",
                   help="time real training batches of DATASET (e.g. trec-fine) instead of one random batch: "
                   "shuffled, not bucketed, each padded to its longest example, as a run makes them")
    p.add_argument("--epoch", action="store_true",
                   help="with --data: time one full epoch, every batch once (--steps is then the epoch's length)")
    p.add_argument("--data-dir", default=None, help="datasets root (else $AMPLIFY_DATA_DIR, else ~/.cache/amplify)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated mixup methods to time (default: all)")
    p.add_argument("--no-hf", action="store_true", help="skip the Hugging Face references")
    p.add_argument("--padded", action="store_true",
                   help="our model without its padding-free path: every position of every block, as a padded "
                        "implementation computes (and ours on CUDA); what the methods cost at equal work")
    p.add_argument("--steps", type=int, default=30, help="timed rounds, one step of every variant each (%(default)s)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first (%(default)s)")
    p.add_argument("--optimizer-rounds", type=int, default=10,
                   help="rounds timing the optimiser step alone: ours vs torch.optim.AdamW fused and default "
                   "(%(default)s; 0: skip)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="torch intra-op threads (default: the cores this process may use)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="peak for MFU (default: by GPU name, its dense bf16 data-sheet peak; on CPU the best rate "
                   "measured on the model's own GEMM shapes)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile our model (not HF's). TMix and Manifold recompile once per drawn layer: give "
                   "it --warmup rounds; the README says what it was measured to gain")
    p.add_argument("--num-labels", type=int, default=2, help="classes of the random batch's labels (--data: the "
                   "dataset's; %(default)s)")
    p.add_argument("--lr", type=float, default=2e-5, help="for every optimiser (%(default)s, the paper's)")
    p.add_argument("--seed", type=int, default=0, help="batch, data order, dropout and mixing draws (%(default)s)")
    p.add_argument("--out", default=None, help="JSON path (default results/speed-{device}-{model}-b{B}-t{T}.json, or "
                   "-{dataset} for --data)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-progress", action="store_true", dest="quiet", help=argparse.SUPPRESS)  # the old name
    argv = sys.argv[1:] if argv is None else list(argv)
    a = p.parse_args(argv)
    a.argv = argv
    a.methods = [m for m in a.methods.split(",") if m]
    bad = [m for m in a.methods if m not in METHODS]
    if bad or not a.methods:
        p.error(f"--methods: unknown {bad}; choose from {', '.join(METHODS)}")
    for name in ("batch_size", "seq_len", "steps", "threads", "num_labels"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.warmup < 0 or not 0 <= a.pad_frac < 1 or a.optimizer_rounds < 0:
        p.error("--warmup and --optimizer-rounds must be >= 0 and 0 <= --pad-frac < 1")
    if a.epoch and not a.data:
        p.error("--epoch needs --data DATASET")
    if a.data is not None and a.data not in DATASETS:
        fail(p.prog, f"--data {a.data!r} is not a dataset; choose from {', '.join(DATASETS)}")
    if a.out is not None:
        check_out_file(p.prog, "--out", a.out)
    return a


def run(a):
    env = environment()  # at the start: the code that runs (a commit made while it runs is not it)
    env["malloc"] = keep_freed_memory()  # as a run does; the HF references in this process get it too
    torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    shape = f"b{a.batch_size}-{a.data}{'-epoch' if a.epoch else ''}" if a.data else f"b{a.batch_size}-t{a.seq_len}"
    out = Path(a.out) if a.out else REPO / "results" / f"speed-{device_slug(device)}-{a.model}-{shape}.json"
    check_out_file(PROG, "--out", out)  # before the timing, not after
    amp = autocast_for(device)
    torch.manual_seed(a.seed)
    log = lambda *x: print(*x, file=sys.stderr)  # status to stderr; the table and targets to stdout

    try:  # the data and the weights: a missing or broken file is the user's to fix, in one line
        if a.data:
            batches, a.num_labels = real_batches(a.data, a.model, a.weights, a.batch_size, a.seed, a.data_dir)
            if a.epoch:
                a.steps = len(batches)
        ours, info = build_ours(a.model, a.weights, a.random_init, a.num_labels)
    except (ValueError, OSError, ModelNotFound) as e:  # DataFormatError, CheckpointError, DataMissingError ...
        fail(PROG, e)
    ours.bert.padding_free = not a.padded
    cfg = ours.config
    if a.seq_len > cfg.max_position_embeddings:
        raise SystemExit(f"--seq-len {a.seq_len} exceeds the model's {cfg.max_position_embeddings} positions")
    if not a.data:
        batches = [random_batch(cfg, a.batch_size, a.seq_len, a.num_labels, a.pad_frac, a.seed)]
    feed = Feed(batches, device)

    transformers = None if a.no_hf else import_transformers()
    hf_note = "skipped (--no-hf)" if a.no_hf else ("transformers not installed" if transformers is None else None)
    if transformers is not None and cfg.model_type != "bert":  # the reference is BertForSequenceClassification
        transformers, hf_note = None, f"no Hugging Face reference for a {cfg.model_type} model here (BERT only)"
    hf = build_hf(transformers, ours) if transformers is not None else None
    # On CPU two HF references: torch's default AdamW (what an HF script gets) and the fused one (the
    # fastest torch offers). On CUDA the default is already fused: one reference.
    hf_fused = build_hf(transformers, ours) if hf is not None and device.type == "cpu" else None
    ours.to(device).train()
    max_diff = None
    if hf is not None:
        hf.to(device).train()
        max_diff = parity(ours, hf, feed.current)
        if hf_fused is not None:
            hf_fused.to(device).train()

    runner = torch.compile(ours) if a.compile else ours

    variants = []
    if hf is not None:
        opt = torch.optim.AdamW(param_groups(hf, 0.01), lr=a.lr, eps=1e-8, weight_decay=0.01,
                                fused=device.type == "cuda" or None)
        variants.append(Variant("hf", make_hf_step(hf, opt, feed, amp), hf, opt))
    if hf_fused is not None:
        opt = torch.optim.AdamW(param_groups(hf_fused, 0.01), lr=a.lr, eps=1e-8, weight_decay=0.01, fused=True)
        variants.append(Variant("hf-fused", make_hf_step(hf_fused, opt, feed, amp), hf_fused, opt))
    # One model and one optimiser for all our methods: each step moves the weights a little (lr 2e-5),
    # which changes no timing, and it halves the memory held.
    opt = AdamW(param_groups(ours, 0.01), lr=a.lr, eps=1e-8, weight_decay=0.01)
    for name in a.methods:
        method = make_method(name, cfg.num_hidden_layers)
        variants.append(Variant(name, make_our_step(runner, method, opt, feed, a.seed, device, amp), ours, opt))

    probe = None
    if device.type == "cuda":
        gpu = torch.cuda.get_device_name(device)
        peak_tflops, peak_source = a.peak_tflops or lookup_peak_tflops(gpu), "data sheet (dense bf16)"
        if peak_tflops is None:
            log(f"MFU: unknown peak for {gpu!r}; pass --peak-tflops (its dense bf16 TFLOP/s). MFU is n/a.")
    else:
        rows_typical = int(np.median([int(b["attention_mask"].sum()) for b in batches]))
        gpu, peak_tflops, peak_source = None, a.peak_tflops, "--peak-tflops"
        if peak_tflops is None:  # measured in every timed round, beside the steps (mfu.GemmPeak says why)
            probe = GemmPeak(cfg, rows_typical, device).peak
            peak_source = f"measured in every round: best fp32 GEMM rate on the model's shapes, {rows_typical} rows"
    if peak_tflops:
        log(f"MFU peak: {peak_tflops:.3f} TFLOP/s ({peak_source})")

    real = float(np.mean([b["attention_mask"].float().mean().item() for b in batches]))
    what = (f"{a.data} batches of {a.batch_size} ({len(batches)} per epoch, {real:.0%} real positions)" if a.data
            else f"batch {a.batch_size} x {a.seq_len} tokens (pad {a.pad_frac:.0%})")
    log(f"{a.model} ({ours.num_params() / 1e6:.1f}M params{', random init' if a.random_init else ''}) | {what} | "
        f"{device} {gpu or ''} | {'bf16 autocast' if device.type == 'cuda' else 'fp32'} | {a.threads} threads | "
        f"{a.warmup} warm-up + {a.steps} timed rounds{' (one epoch)' if a.epoch else ''} of "
        f"{[v.name for v in variants]}" + (" | torch.compile" if a.compile else ""))
    if hf is None:
        log(f"HF reference: {hf_note}; ratios vs HF are n/a")
    else:
        log(f"HF reference: transformers {transformers.__version__}, same weights (eval logits max |diff| "
            f"{max_diff:.2e})")

    load_before = os.getloadavg()
    if device.type == "cpu" and a.threads > 1 and load_before[0] >= a.threads:  # (this process counts ~1 of it)
        log(f"note: load average {load_before[0]:.1f} on {os.cpu_count()} cores: other processes share them. Then "
            f"{a.threads} OpenMP threads wait on each other at every op; --threads 1 may be much faster.")
    t0 = time.perf_counter()
    used, peaks = measure(variants, a.steps, a.warmup, device, progress=not a.quiet, feed=feed, probe=probe)
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    work = [{"samples": len(b["labels"]), "tokens": b["attention_mask"].numel(),
             "real_tokens": int(b["attention_mask"].sum()), "flops": useful_flops(ours, b)}
            for b in (batches[i] for i in used)]
    optimizer = None
    if a.optimizer_rounds:
        optimizer = time_optimizers(ours, a.optimizer_rounds, a.lr, device)
    for v in variants:
        v.resident_mb = tensor_mb(v.model, v.optimizer)
        if device.type == "cpu":
            # Twice, keeping the second: the first profiled step of a model after another variant's
            # (and the first in the process) reads up to 2x high, a profiler artefact we did not chase.
            feed.set(0)
            peak = [cpu_step_peak_mb(v.step) for _ in range(2)][-1]
            v.peaks = [] if peak is None else [peak]
    bad = [v.name for v in variants if not torch.isfinite(v.loss).all()]
    if bad:
        raise SystemExit(f"non-finite loss in {bad}: the timing of a diverged step means nothing")

    if peaks:  # measured in every round: MFU per round; their median for the log and the JSON
        q1, peak_tflops, q3 = quartiles(peaks)
        log(f"MFU peak: median {peak_tflops:.3f} TFLOP/s (IQR {q1:.3f}-{q3:.3f}) over the rounds ({peak_source})")
    rows = summarize(variants, work, peaks or peak_tflops, device.type == "cpu")
    show_mfu = peak_tflops is not None  # n/a on a GPU of unknown peak
    print(table(rows, show_mfu))
    for line in target_lines(rows):
        print("wall time: " + line)
    if device.type == "cpu":
        for line in target_lines(rows, key="cpu_ratio_vs"):
            print("CPU time:  " + line)
    if show_mfu and "none" in rows:
        q1, q3 = rows["none"]["mfu_iqr"]
        print(f"MFU (none): {rows['none']['mfu']:.1%} (per-round IQR {q1:.1%}-{q3:.1%})  target >= 70%")
    if optimizer is not None:
        ms = optimizer["ms_median"]
        print(f"optimiser step alone: ours {ms['ours']:.1f} ms, torch fused {ms['torch-fused']:.1f} ms, torch default "
              f"{ms['torch-default']:.1f} ms; ours vs fused {optimizer['ours_vs_fused']:.3f}x "
              f"(IQR {optimizer['ours_vs_fused_iqr'][0]:.3f}-{optimizer['ours_vs_fused_iqr'][1]:.3f})  target <= 1.3")

    env["transformers"] = None if transformers is None else transformers.__version__
    result = {
        "schema": 1, "benchmark": "speed", "command": " ".join(["python -m bench.speed", *a.argv]),
        "device": str(device), "device_name": gpu or cpu_model(), "cpu_count": os.cpu_count(),
        "dtype": "bf16-autocast" if device.type == "cuda" else "fp32", "threads": torch.get_num_threads(),
        "model": {**info, "config": vars(cfg), "n_params": ours.num_params(),
                  "n_params_non_embedding": ours.num_params(non_embedding=True), "pretrained": not a.random_init},
        "batch_size": a.batch_size, "seq_len": None if a.data else a.seq_len, "pad_frac": a.pad_frac,
        "data": a.data, "epoch": a.epoch, "batches": len(batches), "real_tokens_frac": real,
        "methods": a.methods, "steps": a.steps, "warmup": a.warmup, "compile": a.compile, "lr": a.lr,
        "seed": a.seed, "flops_per_token": ours.flops_per_token(a.seq_len),
        "peak_tflops": peak_tflops, "peak_tflops_rounds": peaks or None,
        "peak_source": peak_source if peak_tflops else None,
        "hf": {"included": hf is not None, "note": hf_note, "parity_max_abs_diff": max_diff,
               "optimizer": "torch.optim.AdamW " + ("fused" if device.type == "cuda" else "default"),
               "fused_reference": hf_fused is not None},
        "optimizer": optimizer, "padding_free": ours.bert.padding_free,
        "wall_s": wall, "load_avg": {"before": list(load_before), "after": list(load_after)},
        "load_avg_1min": {"before": load_before[0], "after": load_after[0]}, "variants": rows, "env": env,
    }
    written, error = write_json_or_fallback(out, result)
    log(f"wrote {written}" if error is None else lost_write(out, error, written))
    return result


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
