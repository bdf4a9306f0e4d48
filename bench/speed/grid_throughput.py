"""
Grid throughput: runs per hour of one small grid, run by `python -m bench.compare` in different ways on this
machine, side by side in one benchmark (interleaved rounds, so a noisy neighbour hits every way alike).

    python -m bench.speed.grid_throughput                                  # --jobs 2 x 1 thread vs 1 x 2 threads
    python -m bench.speed.grid_throughput --baseline ../old-checkout       # ... and older code, as it ran then
    python -m bench.speed.grid_throughput --load 2                         # the same with 2 busy processes beside

The grid is the `cpu-small` preset's recipe (MiniLM, lr 5e-5) on one dataset, shrunk so that a round takes
minutes: --methods x --seeds runs of --epochs epoch(s) on --train-limit training and --eval-limit dev/test
examples. Each run is a whole `bench.compare` child as in a real grid (process start, model load, tokenising
from the shared cache, training, evaluation, the JSON write), so fixed per-run costs count as they do there;
on full training sets they weigh less and the ratios move toward those of bench.speed's epoch mode.

Ways measured (--ways):
  JxT         this checkout's bench.compare --jobs J --threads T
  baseline    --baseline DIR's bench.compare with its own defaults (e.g. a git worktree of the code before the
              speed work: one run at a time, torch's default of one thread per core)
Each round runs every way once, in a fresh results directory, and checks that all runs finished. --load N
keeps N single-threaded busy processes (matrix products) running at normal priority for the whole benchmark:
a loaded machine, as a shared CPU is. The load average before and after is recorded.

Output: a table (runs/hour per way, median over rounds, and the ratio to the first way) and a JSON under
results/ (or --out) with the machine, the load and the versions.
"""

import argparse
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

# A busy process for --load: one thread of matrix products until killed.
BUSY = ("import os; os.environ['OMP_NUM_THREADS'] = '1'\n"
        "import numpy as np\nA = np.random.rand(256, 256)\nwhile True:\n    A = np.tanh(A @ A)\n")


def grid_args(a):
    """bench.compare's arguments for the shrunk grid (without --results and the way's own flags)."""
    return ["--preset", a.preset, "--datasets", a.dataset, "--methods", *a.methods,
            "--seeds", *map(str, a.seeds), "--epochs", str(a.epochs), "--train-limit", str(a.train_limit),
            "--eval-limit", str(a.eval_limit), "--quiet"]


def way_command(way, a):
    """(cwd, argv tail) of one way."""
    if way == "baseline":
        return Path(a.baseline), []
    jobs, threads = (int(x) for x in way.split("x"))
    return REPO, ["--jobs", str(jobs), "--threads", str(threads)]


def run_way(way, a, results):
    cwd, extra = way_command(way, a)
    cmd = [sys.executable, "-m", "bench.compare", *grid_args(a), "--results", str(results), *extra]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{way}: bench.compare exited {done.returncode}:\n{done.stdout[-3000:]}")
    n = len(list(results.glob("*.json")))
    if n != a.n_runs:
        raise SystemExit(f"{way}: {n} result files in {results}, expected {a.n_runs}:\n{done.stdout[-3000:]}")
    return wall


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.speed.grid_throughput",
                                description=__doc__.split("\n\n")[0].strip(),
                                epilog="\n\n".join(__doc__.split("\n\n")[2:5]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ways", nargs="+", default=["2x1", "1x2"], metavar="WAY",
                   help="JxT (jobs x threads) or 'baseline' (default: %(default)s; 'baseline' is added when "
                        "--baseline is given)")
    p.add_argument("--baseline", default=None, metavar="DIR", help="a checkout of older code to time as it ran")
    p.add_argument("--preset", default="cpu-small", help="bench.compare preset for the recipe (%(default)s)")
    p.add_argument("--dataset", default="trec-fine", help="(%(default)s)")
    p.add_argument("--methods", nargs="+", default=["none", "embedmix", "sentmix", "tmix", "amplify"],
                   help="(cpu-small's: %(default)s)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="(%(default)s)")
    p.add_argument("--epochs", type=int, default=1, help="(%(default)s)")
    p.add_argument("--train-limit", type=int, default=1600, help="training examples per run (%(default)s)")
    p.add_argument("--eval-limit", type=int, default=500, help="dev and test examples per run (%(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="rounds, each running every way once (%(default)s)")
    p.add_argument("--load", type=int, default=0, metavar="N", help="busy single-thread processes beside (0)")
    p.add_argument("--out", default=None, help="JSON path (default results/grid-throughput-*.json)")
    a = p.parse_args(argv)
    if a.baseline is not None and "baseline" not in a.ways:
        a.ways.append("baseline")
    for w in a.ways:
        if w != "baseline" and not (len(w.split("x")) == 2 and all(x.isdigit() and int(x) > 0 for x in w.split("x"))):
            p.error(f"--ways: {w!r} is neither JxT (e.g. 2x1) nor 'baseline'")
    if "baseline" in a.ways and not (a.baseline and (Path(a.baseline) / "bench" / "compare.py").is_file()):
        p.error(f"--baseline {a.baseline}: not a checkout with bench/compare.py")
    a.n_runs = len(a.methods) * len(a.seeds)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    return a


def main(argv=None):
    a = parse_args(argv)
    env = environment()  # at the start: the code that runs
    load = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(a.load)]
    scratch = Path(tempfile.mkdtemp(prefix="grid-throughput-"))
    walls = {w: [] for w in a.ways}
    try:
        time.sleep(5 if load else 0)  # let the load start
        load_before = os.getloadavg()
        # Warm-up, untimed: tokeniser caches and page cache for every checkout.
        for w in a.ways:
            run_way(w, argparse.Namespace(**{**vars(a), "methods": a.methods[:1], "seeds": a.seeds[:1],
                                             "n_runs": 1}), scratch / f"warm-{w}")
        for r in range(a.rounds):
            for w in a.ways:
                wall = run_way(w, a, scratch / f"r{r}-{w}")
                walls[w].append(wall)
                print(f"round {r + 1}/{a.rounds} {w}: {a.n_runs} runs in {wall:.1f} s "
                      f"({a.n_runs / wall * 3600:.0f} runs/hour)", file=sys.stderr, flush=True)
        load_after = os.getloadavg()
    finally:
        for proc in load:
            proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    first = a.ways[0]
    rows = []
    for w in a.ways:
        per_hour = [a.n_runs / s * 3600 for s in walls[w]]
        ratio = [x / y for x, y in zip(walls[first], walls[w], strict=True)]  # paired per round
        rows.append({"way": w, "wall_s": walls[w], "runs_per_hour": statistics.median(per_hour),
                     "vs_first": statistics.median(ratio)})
    print(tabulate([[r["way"], " ".join(f"{s:.0f}" for s in r["wall_s"]), f"{r['runs_per_hour']:.0f}",
                     f"{r['vs_first']:.2f}x"] for r in rows],
                   headers=["way", "wall s per round", "runs/hour (median)", f"throughput vs {first}"],
                   tablefmt="github", disable_numparse=True))
    result = {"schema": 1, "benchmark": "grid-throughput",
              "command": " ".join(["python -m bench.speed.grid_throughput", *a.argv]),
              "grid": grid_args(a), "n_runs": a.n_runs, "rounds": a.rounds, "load_processes": a.load,
              "baseline": a.baseline, "cpu_count": os.cpu_count(),
              "load_avg_1min": {"before": load_before[0], "after": load_after[0]}, "ways": rows,
              "env": env}
    tag = f"{a.dataset}-load{a.load}"
    out = Path(a.out) if a.out else REPO / "results" / f"grid-throughput-{tag}.json"
    write_json_atomic(out, result)
    print(f"wrote {out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
