"""
What amplify/allocator.py's malloc setting saves: the same training steps with glibc's usual malloc and with
freed memory kept for the next step, side by side.

    python -m bench.speed.allocator --data trec-fine            # real TREC-fine batches, 30 rounds
    python -m bench.speed.allocator --seq-len 64 --rounds 16    # one random 32 x 64 batch

The setting belongs to a process, and a heap once shaped by one setting serves the other from what it
kept, so each setting gets its own fresh process (spawned: glibc's defaults there are the real ones),
the same model, batches and seed, and they step in lockstep: every round the parent tells one process,
then the other, to run one step on the round's batch (the order alternates between rounds), so a busy
neighbour slows both alike. Each step records its wall time, the process's CPU time and its minor page
faults. Reported: each setting's median step, the median and quartiles of the per-round ratio kept /
usual, the page faults per step, and each process's peak resident memory (what keeping costs).
"""

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from amplify.results import REPO, environment, write_json_atomic
from bench.speed.timing import quartiles
from bench.speed.train_step import cpu_model
from model.registry import MODELS

MODES = ("usual", "kept")


def timed(step):
    """One step: (wall s, CPU s, minor page faults)."""
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0, t0 = time.process_time(), time.perf_counter()
    step()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return dt, dc, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0


def worker(mode, a, conn):
    """One setting's process: build, warm up, then one timed step per round index received; None ends it."""
    import torch

    from amplify.allocator import keep_freed_memory
    from amplify.methods import make_method
    from amplify.optim import AdamW, param_groups
    from bench.speed.variants import Feed, build_ours, make_our_step, random_batch, real_batches

    state = keep_freed_memory() if mode == "kept" else "glibc's defaults"
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    batches, num_labels = (real_batches(a.data, a.model, a.weights, a.batch_size, a.seed, a.data_dir) if a.data
                           else (None, 2))
    model, _ = build_ours(a.model, a.weights, num_labels=num_labels)
    if batches is None:
        batches = [random_batch(model.config, a.batch_size, a.seq_len, num_labels, seed=a.seed)]
    cpu = torch.device("cpu")
    feed = Feed(batches, cpu)
    step = make_our_step(model.train(), make_method("none", model.config.num_hidden_layers),
                         AdamW(param_groups(model, 0.01), lr=2e-5), feed, a.seed, cpu, contextlib.nullcontext)
    for i in range(a.warmup):
        feed.set(len(batches) - 1 - i)  # batches the rounds reach last, if at all
        step()
    conn.send(state)
    while (r := conn.recv()) is not None:
        feed.set(r)
        conn.send(timed(step))
    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # MiB (Linux: KiB)


def summary(rows):
    """rows: {mode: [(wall, cpu, faults), ...]} -> medians per mode and the per-round ratios kept / usual."""
    out = {}
    for mode, r in rows.items():
        out[mode] = {"ms_median": quartiles([x[0] for x in r])[1] * 1e3,
                     "cpu_ms_median": quartiles([x[1] for x in r])[1] * 1e3,
                     "faults_median": quartiles([x[2] for x in r])[1]}
    for i, key in ((0, "ratio"), (1, "cpu_ratio")):
        q1, med, q3 = quartiles([k[i] / u[i] for k, u in zip(rows["kept"], rows["usual"], strict=True)])
        out[key], out[key + "_iqr"] = med, [q1, q3]
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench.speed.allocator",
        description="Time our training step (method none) with glibc malloc's usual behaviour and with freed memory "
        "kept for the next step (amplify/allocator.py): one fresh process per setting, stepping in lockstep.")
    p.add_argument("--model", default="minilm-l6", choices=MODELS, help="backbone (%(default)s)")
    p.add_argument("--weights", default=None, help="directory with config.json and model.safetensors")
    p.add_argument("--data", default=None, metavar="DATASET",
                   help="real training batches of DATASET (shuffled, unbucketed, dynamic padding, as a run makes "
                   "them), the next one each round; default: one random batch")
    p.add_argument("--data-dir", default=None, help="datasets root (else $AMPLIFY_DATA_DIR, else ~/.cache/amplify)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step (%(default)s)")
    p.add_argument("--seq-len", type=int, default=64, help="tokens per example of the random batch (%(default)s)")
    p.add_argument("--rounds", type=int, default=30, help="timed rounds, one step of each setting (%(default)s)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (%(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (%(default)s, as a grid's runs)")
    p.add_argument("--seed", type=int, default=0, help="batches, dropout (%(default)s)")
    p.add_argument("--out", default=None, help="JSON path (default results/allocator-cpu-{model}-{data or bBtT}.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    for name in ("batch_size", "seq_len", "rounds", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    return a


def main(argv=None):
    a = parse_args(argv)
    if not sys.platform.startswith("linux"):
        raise SystemExit("bench.speed.allocator measures glibc's malloc: Linux only")
    preset = sorted(k for k in os.environ if k.startswith("MALLOC_") or k == "AMPLIFY_MALLOC")
    if preset:  # both processes would inherit them: neither would run with the setting it is named for
        raise SystemExit(f"bench.speed.allocator compares glibc's defaults with amplify/allocator.py's setting: "
                         f"unset {', '.join(preset)} first")
    env = environment()
    ctx = mp.get_context("spawn")  # fresh interpreters: fork would hand both the parent's heap
    procs, conns = {}, {}
    for mode in MODES:
        conns[mode], child = ctx.Pipe()
        procs[mode] = ctx.Process(target=worker, args=(mode, a, child), name=f"allocator-{mode}")
        procs[mode].start()
    try:
        states = {mode: conns[mode].recv() for mode in MODES}  # each has built and warmed up
        load_before, t0 = os.getloadavg(), time.perf_counter()
        rows = {mode: [] for mode in MODES}
        for r in tqdm(range(a.rounds), desc="rounds", disable=a.quiet, file=sys.stderr):
            for mode in MODES if r % 2 == 0 else MODES[::-1]:
                conns[mode].send(r)
                rows[mode].append(conns[mode].recv())
        load_after, wall = os.getloadavg(), time.perf_counter() - t0
        peaks = {}
        for mode in MODES:
            conns[mode].send(None)
            peaks[mode] = conns[mode].recv()
    except EOFError:
        raise SystemExit("a benchmark process died (its traceback is above)") from None
    finally:
        for p in procs.values():
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    s = summary(rows)
    what = a.data or f"b{a.batch_size}t{a.seq_len}"
    result = {"schema": 1, "benchmark": "allocator", "command": "python -m bench.speed.allocator "
              + " ".join(sys.argv[1:] if argv is None else argv), "cpu": cpu_model(), "model": a.model, "data": what,
              "threads": a.threads, "rounds": a.rounds, "warmup": a.warmup, "malloc": states, **s,
              "peak_rss_mb": peaks, "rows": rows, "wall_s": wall,
              "load_avg": {"before": list(load_before), "after": list(load_after)}, "env": env}
    out = Path(a.out) if a.out else REPO / "results" / f"allocator-cpu-{a.model}-{what}.json"
    write_json_atomic(out, result)
    u, k = s["usual"], s["kept"]
    print(f"{a.model}, {what}, {a.threads} thread(s), {a.rounds} rounds, load average {load_before[0]:.1f} -> "
          f"{load_after[0]:.1f}")
    print(f"usual malloc: {u['ms_median']:.1f} ms/step, {u['faults_median']:.0f} page faults/step, "
          f"peak RSS {peaks['usual']:.0f} MiB")
    print(f"kept memory:  {k['ms_median']:.1f} ms/step, {k['faults_median']:.0f} page faults/step, "
          f"peak RSS {peaks['kept']:.0f} MiB ({states['kept']})")
    print(f"kept / usual: wall {s['ratio']:.3f} (per-round IQR {s['ratio_iqr'][0]:.3f}-{s['ratio_iqr'][1]:.3f}), "
          f"CPU {s['cpu_ratio']:.3f} (IQR {s['cpu_ratio_iqr'][0]:.3f}-{s['cpu_ratio_iqr'][1]:.3f})")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
