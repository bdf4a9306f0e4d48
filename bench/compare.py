"""
python -m bench.compare: run a grid of fine-tuning runs (resumable), then print the paper's tables.

    python -m bench.compare --preset quick                       # 8 min on 2 free CPU cores
    python -m bench.compare --preset paper --results results/paper
    python -m bench.compare --preset quick --report-only --format latex --out paper/tables
    torchrun --nproc_per_node=4 -m bench.compare --preset paper   # one GPU per rank
    python -m bench.compare --preset paper --shard 3/8            # job 3 of an 8-job array, same results dir
    python -m bench.compare --preset paper --launcher slurm --slurm-gpus 1 --slurm-parallel 8  # a Slurm job array
    python -m bench.compare --experiment table4 --preset reduced  # the paper's other experiments: bench/experiments/
    python -m bench.compare --claims --results results/paper      # the paper's claims vs stored results
    python -m bench.compare --claims --results results/paper --speed bench/results/minilm-table2-speed  # + cost

The grid is --datasets x --methods x --seeds (default: the paper's Table 2, 7 datasets x none, embedmix,
sentmix, tmix, amplify x 3 seeds) over one base config, which takes every option of run.py. A --preset
fills in the grid and options; a flag given on the command line wins over the preset.

Each run writes the run.py result JSON, atomically, to RESULTS/{dataset}-{method}-s{seed}-{key}.json,
key = a hash of the run's full config (bench/grid/plan.py says which fields and why). Started again, the
grid skips finished runs, re-runs unfinished ones (a killed run leaves no file) and never reuses a file
made with another config. Failed runs are recorded and reported, and skipped until --retry-failed.
Each run trains in a child process (bench/grid/runner.py says why).

Then it prints (Markdown by default; --format latex or csv; --out DIR also writes them to files):
  0. a summary: one line per dataset and method, gathered from the tables below (bench/report/summary.py);
  1. accuracy: mean ± std test accuracy per method x dataset, Δ vs none, the best per column in bold
     (bench/report/tables.py);
  2. significance: each method vs none and amplify vs each other method, by Welch's t over seeds, a
     paired bootstrap and McNemar over test examples, Holm-corrected, with Hedges' g and a verdict in
     words (bench/report/significance.py);
  3. calibration: NLL, ECE and Brier score per method and their significance (bench/report/calibration.py);
  4. cost: step time, samples/s, peak memory and overhead vs none per method (bench/report/tables.py);
  5. the budget: how many runs had their best dev epoch in the last one allowed, and the mean dev accuracy
     per epoch (bench/report/tables.py);
and the failed runs, if any. The runs' own timers meet whatever load the machine had; for the cost claim,
--claims --speed reads bench.speed JSONs instead, whose rounds time every method seconds apart.

torchrun: the ranks split the pending runs (bench/grid/plan.py), each trains on its own GPU if there are
GPUs, and rank 0 prints the tables after a final barrier. --shard i/N splits a grid between independent
jobs writing into one results directory; the job that completes the grid prints the tables, the others
say how far it got (or run --report-only at the end).

--launcher slurm submits the pending runs as one Slurm job array (bench/grid/slurm.py), prints the job id and
how to follow it, and returns; with --wait it shows a progress bar until the array is done, then the tables.
Submitting again submits only what is neither finished nor queued. torchrun stays for one machine with
several GPUs and no Slurm; on a Slurm cluster the launcher replaces it (and --shard for other schedulers).

Exit status: 0 every run of the grid ok; 1 some failed or missing; 2 bad arguments; 130 interrupted (Ctrl-C);
143 when SIGTERM ends it, as any process (its runs in flight end with it; a restart resumes them).
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from amplify.cli import ArgumentParser, add_train_args, check_out_dir, config_from_args, fail, names_epilog
from amplify.user_methods import method_arg
from bench.experiments import EXPERIMENTS, GridSpec, ReportOptions
from bench.grid.plan import (
    assigned,
    collect,
    device_type,
    foreign_files,
    parse_shard,
    plan,
    reuse_finished,
    shard_of,
    to_do,
    unreadable,
)
from bench.presets import PRESETS, TABLE2_METHODS, Preset
from bench.report.render import FORMATS, render_all, write_tables
from bench.report.tables import failures_table, provenance_notes, subset_notes
from bench.stats.monte_carlo import CAP, START, ResamplePlan
from data import DATASETS


def build_parser():
    presets = "\n".join(f"  {k:10s} {v.summary}" for k, v in PRESETS.items())
    experiments = "\n".join(f"  {k:10s} {v.summary}" for k, v in EXPERIMENTS.items())
    p = ArgumentParser(
        prog="python -m bench.compare",
        description="Run a resumable grid of fine-tuning runs and print accuracy, significance and cost tables.",
        epilog=f"presets:\n{presets}\nexperiments:\n{experiments}\n\n"
               f"{names_epilog()}\n\n"
               "examples:\n"
               "  python -m bench.compare --preset quick\n"
               "  python -m bench.compare --preset quick --report-only --format latex --out tables/\n"
               "  torchrun --nproc_per_node=4 -m bench.compare --preset paper\n"
               "  python -m bench.compare --preset paper --launcher slurm --slurm-partition gpu --slurm-gpus 1 "
               "--slurm-cpus 8 --slurm-mem 32G --slurm-time 240 --slurm-parallel 8 --results /shared/paper\n"
               "  python -m bench.compare --preset paper --shard $SLURM_ARRAY_TASK_ID/8\n\n"
               "stopping: Ctrl-C or SIGTERM stops the runs in flight, which lose only their current epoch (a restart "
               "continues each from its checkpoint, RUN.ckpt.pt); a file named STOP in the results directory lets "
               "them finish and starts no new one (delete it to go on)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _grid_args(p.add_argument_group("the grid"))
    _resume_args(p.add_argument_group("resuming and splitting"))
    _slurm_args(p.add_argument_group("Slurm (bench/grid/slurm.py; needs: pip install submitit)"))
    _report_args(p.add_argument_group("the report"))
    add_train_args(p)
    return p


def _grid_args(g):
    """What to run or check: the grid's datasets, methods and seeds, and where its results are."""
    g.add_argument("--preset", choices=PRESETS, help="a named grid and options (flags given here win)")
    g.add_argument("--experiment", default="table2", choices=EXPERIMENTS, help="what to run and print (%(default)s)")
    g.add_argument("--datasets", nargs="+", choices=DATASETS, metavar="D",
                   help="default: the paper's seven")
    g.add_argument("--methods", nargs="+", type=method_arg, metavar="M",
                   help="default: " + " ".join(TABLE2_METHODS) + "; a method of your own: path/to/file.py:Class or "
                        "package.module:Class (docs/adding-a-method.md)")
    g.add_argument("--seeds", nargs="+", type=int, metavar="S", help="default: 0 1 2")
    g.add_argument("--results", default=None,
                   help="results directory (default: the preset's own if it names one, else results/PRESET, or "
                        "results/grid)")
    g.add_argument("--claims", action="store_true",
                   help="check the paper's claims against every stored result in --results (only those of "
                        "--datasets / --seeds when given); train nothing (bench/report/claims.py)")
    g.add_argument("--speed", nargs="+", default=None, metavar="PATH",
                   help="bench.speed JSONs (files, or directories of speed-*.json) whose interleaved rounds time "
                        "every method seconds apart: with --claims they test the cost claim instead of the runs' own "
                        "timers; figure4 draws each method's cumulative time at their step times too")


def _resume_args(g):
    """Resuming, splitting and running the grid."""
    g.add_argument("--retry-failed", action="store_true", help="re-run runs recorded as failed")
    g.add_argument("--report-only", action="store_true", help="print the tables from stored results; train nothing")
    g.add_argument("--dry-run", action="store_true", help="list the runs, their state and files; train nothing")
    g.add_argument("--reuse", default=None, metavar="DIR",
                   help="before running, copy in the finished results of the same runs (same config, same file "
                        "name) that DIR holds, instead of training them again (minilm-tuned: its seed-0 runs are "
                        "the tuning runs at the chosen lr); never replaces a file")
    g.add_argument("--also-read", nargs="+", default=(), metavar="DIR",
                   help="also read the finished runs of this grid from these folders, in place, when --results has no "
                        "file for them: never copied, run or written there (runs found nowhere train into --results); "
                        "--claims reads their results too. A report over several grids (minilm-fewshot-gain), or a "
                        "grid whose reference runs another grid holds (minilm-table4/5, minilm-paper-tuned)")
    g.add_argument("--shard", default="0/1", metavar="i/N", help="run only share i of N of the grid (0-based)")
    g.add_argument("--first-seeds", type=int, default=0, metavar="K",
                   help="run the first K --seeds of every dataset and method before the other seeds: the earliest "
                        "useful answer from a long grid (default 0: dataset by dataset, all seeds)")
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs side by side, each in its own process (default: one per CPU core on CPU, 1 on "
                        "GPU or under torchrun); each gets --threads, else cores/N threads")
    g.add_argument("--no-checkpoints", action="store_true",
                   help="keep no RUN.ckpt.pt (default: each run saves its state after every epoch beside its JSON, "
                        "and a run killed mid-way continues from there with the same numbers; MiniLM ~0.3 GB, "
                        "bert-base ~1.3-1.8 GB per run in flight; removed when the run's JSON is written)")
    g.add_argument("--in-process", action="store_true",
                   help="train in this process instead of a child per run (debugging; CPU peak memory then "
                        "accumulates over runs)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--save-models", action="store_true",
                   help="also write each run's fine-tuned classifier at its best-dev epoch, in Hugging Face's layout, "
                        "to RESULTS/models/<run file name>/ (runs already finished are not re-run for it)")
    g.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="TensorBoard logs, one subdirectory per run named like its result file (optional package: "
                        "pip install -r requirements-tensorboard.txt); every run writes a steps CSV beside its JSON")


def _slurm_args(g):
    """Submitting the grid as a Slurm job array."""
    g.add_argument("--launcher", default="local", choices=("local", "slurm"),
                   help="local: train here (default); slurm: submit the pending runs as one Slurm job array")
    g.add_argument("--wait", action="store_true", help="slurm: poll, show a progress bar, then print the tables")
    g.add_argument("--slurm-partition", default=None, metavar="P", help="partition (the cluster's default)")
    g.add_argument("--slurm-time", type=int, default=60, metavar="MIN", help="time limit per run (%(default)s min)")
    g.add_argument("--slurm-cpus", type=int, default=1, metavar="N", help="CPUs per run, its threads (%(default)s)")
    g.add_argument("--slurm-gpus", type=int, default=0, metavar="N", help="GPUs per run (%(default)s)")
    g.add_argument("--slurm-mem", default=None, metavar="SIZE", help="memory per run, e.g. 16G (partition default)")
    g.add_argument("--slurm-parallel", type=int, default=256, metavar="N",
                   help="array tasks running at once (%(default)s)")
    g.add_argument("--slurm-extra", nargs="+", default=[], metavar="KEY=VALUE",
                   help="any other sbatch options, without --: --slurm-extra account=abc qos=high")
    g.add_argument("--slurm-poll", type=float, default=30.0, metavar="S", help="--wait: seconds between polls")


def _report_args(g):
    """The printed tables and their statistics."""
    g.add_argument("--format", default="markdown", choices=FORMATS, help="printed tables (%(default)s)")
    g.add_argument("--out", default=None, help="also write tables.md, tables.tex and one CSV per table here")
    g.add_argument("--sig-alpha", type=float, default=0.05,
                   help="significance level after Holm (%(default)s; --alpha is the mixing Beta(α, α) of run.py)")
    g.add_argument("--bootstrap", type=int, default=START, metavar="B",
                   help="resamples every resampled test starts with (%(default)s); a test whose Holm verdict the "
                        "draw could still change gets more, doubling up to --bootstrap-max "
                        "(bench/stats/monte_carlo.py)")
    g.add_argument("--bootstrap-max", type=int, default=CAP, metavar="B",
                   help="the most resamples one test gets (%(default)s); a test still undecided there is printed as "
                        "borderline, never as a verdict")
    g.add_argument("--resample-seed", type=int, default=0, metavar="N",
                   help="the resampler's seed (%(default)s), recorded in every output: run again with another seed "
                        "to check that no verdict moves")
    g.add_argument("--figure-steps", type=int, default=200,
                   help="figure4: plot the first N training iterations (%(default)s); its CSVs and PNGs go to "
                        "--out, else the results directory")


def parse(argv=None):
    """Parse argv, then fill in what the preset says wherever the flag was not given explicitly."""
    p = build_parser()
    args = p.parse_args(argv)
    unset = object()  # not a str, so argparse never runs it through an option's type
    probe = build_parser()  # the same parser with every default `unset`: what differs was given explicitly
    probe.set_defaults(**{k: unset for k in vars(args)})
    explicit = {k for k, v in vars(probe.parse_args(argv)).items() if v is not unset}
    preset = PRESETS[args.preset] if args.preset else Preset("default")
    for name in ("datasets", "methods", "seeds"):
        if name not in explicit:
            setattr(args, name, list(getattr(preset, name)))
    for method in args.methods:  # a preset's methods of one's own get the checks of --methods too
        try:
            method_arg(method)
        except argparse.ArgumentTypeError as e:
            p.error(f"argument --methods: {e}")
    for k, v in preset.options.items():
        if not hasattr(args, k):
            raise AssertionError(f"preset {args.preset!r} sets {k!r}, which is not an option of run.py")
        if k not in explicit:
            setattr(args, k, v)
    if args.results is None:
        args.results = f"results/{args.preset or 'grid'}"
    args.explicit = explicit  # --claims filters by --datasets / --seeds only when they were given
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be >= 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.first_seeds < 0:
        p.error("--first-seeds must be >= 0")
    if not 0 < args.sig_alpha < 1 or args.bootstrap < 1 or args.figure_steps < 1:
        p.error("--sig-alpha must be in (0, 1), and --bootstrap and --figure-steps >= 1")
    if args.bootstrap_max < args.bootstrap:
        p.error(f"--bootstrap-max ({args.bootstrap_max}) must be >= --bootstrap ({args.bootstrap})")
    if args.resample_seed < 0:
        p.error(f"--resample-seed must be >= 0 (got {args.resample_seed})")
    check_paths(p, args)
    return p, args


def check_paths(p, args):
    """Every option a grid or a report reads before it starts: one line and exit 2 for the first bad one."""
    if any(s < 0 for s in args.seeds):
        fail(p.prog, f"--seeds must be >= 0 (got {' '.join(map(str, args.seeds))})")
    results = Path(args.results)
    if results.exists() and not results.is_dir():
        fail(p.prog, f"--results {results} cannot hold result files: it is a file; give the folder that holds (or "
                     "will hold) them")
    for folder in args.also_read:
        if Path(folder).exists() and not Path(folder).is_dir():
            fail(p.prog, f"--also-read {folder} is a file: give the results folder of the grid that holds the runs")
        if not Path(folder).exists():  # a grid not started yet: its runs are simply missing
            print(f"{p.prog}: note: --also-read {folder} does not exist (yet): no runs are read from it",
                  file=sys.stderr)
    if args.out is not None:
        check_out_dir(p.prog, "--out", args.out)


def make_plan(args):
    """(experiment, spec, runs) for the arguments; ValueError for a bad config."""
    base = config_from_args(args).validate()
    spec = GridSpec(base, tuple(dict.fromkeys(args.datasets)), tuple(dict.fromkeys(args.methods)),
                    tuple(dict.fromkeys(args.seeds)))
    experiment = EXPERIMENTS[args.experiment]
    configs = experiment.configs(spec)
    for cfg in configs:
        cfg.validate()
    if args.first_seeds:  # a stable sort: within each wave, the experiment's own order
        configs = sorted(configs, key=lambda cfg: cfg.seed not in spec.seeds[:args.first_seeds])
    return experiment, spec, plan(configs, args.results, args.also_read)


def time_left_lines(got):
    """Minutes per run by dataset, and what the unfinished runs should cost, from the finished runs' own wall
    time: each unfinished run is priced at the median of its (dataset, method) cell, else of its dataset; a
    dataset with no finished run yet is named, not guessed. Wall time includes whatever else the machine ran."""
    done = {}
    for run, res in got["ok"]:
        done.setdefault((run.cfg.dataset, run.cfg.method), []).append(res["wall_time_s"] / 60)
    by_dataset = {}
    for (d, _), minutes in done.items():
        by_dataset.setdefault(d, []).extend(minutes)
    per_run = ", ".join(f"{d} {np.median(m):.1f} ({len(m)} runs, {min(m):.1f}-{max(m):.1f})"
                        for d, m in by_dataset.items())
    lines = [f"Minutes per run, median (range) of the runs' own wall time: {per_run}."]
    left = got["missing"] + got["stale"]
    if not left:
        return lines
    priced = [np.median(done.get((r.cfg.dataset, r.cfg.method)) or by_dataset[r.cfg.dataset])
              for r in left if r.cfg.dataset in by_dataset]
    unknown = list(dict.fromkeys(r.cfg.dataset for r in left if r.cfg.dataset not in by_dataset))
    text = f"Left: {len(left)} runs"
    if priced:
        text += f"; {len(priced)} of them on datasets with finished runs, about {sum(priced) / 60:.1f} CPU-hours"
    if unknown:
        text += f"; {len(left) - len(priced)} on datasets with no finished run yet ({', '.join(unknown)}): not priced"
    return lines + [text + "."]


def status_lines(runs, got, args):
    """What the reader should know before the tables: how complete the grid is, and any warnings."""
    records = [res for _, res in got["ok"]]
    elsewhere = sum(run.path.parent != Path(args.results) for run in runs)
    shared = f" ({elsewhere} of them read from {' and '.join(args.also_read)})" if elsewhere else ""
    lines = [f"{len(runs)} runs in {args.results}{shared}: {len(got['ok'])} ok, {len(got['failed'])} failed, "
             f"{len(got['missing'])} missing" + (f", {len(got['stale'])} stale" if got["stale"] else "") + "."]
    unfinished = [r.label for r in got["missing"] + got["stale"]]
    if unfinished:
        more = f" and {len(unfinished) - 10} more" if len(unfinished) > 10 else ""
        lines.append(f"Not finished: {', '.join(unfinished[:10])}{more}. The tables use the finished runs only; "
                     "run the same command without --report-only to complete the grid.")
        total, ok = Counter(r.cfg.dataset for r in runs), Counter(r.cfg.dataset for r, _ in got["ok"])
        if len(total) > 1:
            lines.append("Finished per dataset: " + ", ".join(
                f"{d} {ok[d]} of {n}" + (" (complete)" if ok[d] == n else "") for d, n in total.items()) + ".")
    corrupt = unreadable(got["missing"] + got["stale"])
    if corrupt:
        names = ", ".join(str(r.path) for r in corrupt[:5]) + (" ..." if len(corrupt) > 5 else "")
        lines.append(f"{len(corrupt)} result file(s) are corrupt (truncated, not JSON, or not a result of run.py), "
                     f"so their runs count as not finished: {names}; delete them and run the grid again to redo them.")
    others = foreign_files(runs, args.results)
    if others:
        lines.append(f"{len(others)} other result file(s) in the directory belong to other configurations and "
                     "were not read.")
    if records:
        lines.append(f"Runs' own wall time, summed: {sum(r['wall_time_s'] for r in records) / 60:.1f} min.")
        lines += time_left_lines(got)
    else:
        lines.append("No finished runs yet: nothing to tabulate.")
    return lines + provenance_notes([(run.cfg, res) for run, res in got["ok"]])


def report(runs, spec, experiment, args, got=None):
    """The status lines and tables from whatever results the grid has (and --out files)."""
    got = got or collect(runs)
    records = [(run.cfg, res) for run, res in got["ok"]]
    opts = ReportOptions(alpha=args.sig_alpha, n_resamples=args.bootstrap, resample_seed=args.resample_seed,
                         resample_cap=args.bootstrap_max, out_dir=args.out or args.results,
                         figure_steps=args.figure_steps, speed=tuple(args.speed) if args.speed else None)
    tables = experiment.tables(records, spec, opts) if records else []
    subset = subset_notes(records)  # the top says so once; a table copied alone must say so too
    for table in tables:
        table.notes.extend(subset)
    if got["failed"]:
        tables.append(failures_table(got["failed"]))
    status = status_lines(runs, got, args)
    if args.out:
        for path in write_tables(tables, args.out, preamble=status):
            print(f"wrote {path}", file=sys.stderr)
    prefix = {"markdown": "", "latex": "% ", "csv": "# "}[args.format]
    return "\n".join(prefix + line for line in status) + "\n\n" + render_all(tables, args.format)


def incomplete(got):
    return bool(got["failed"] or got["missing"] or got["stale"])


def dry_run(runs, shard, retry_failed):
    from bench.grid.runner import resumes_after

    mine = {r.key for r, _ in to_do(shard_of(runs, shard), retry_failed)}
    for run in runs:
        state, _ = run.state()
        if state in ("missing", "stale") and unreadable([run]):
            state = "corrupt"  # a file that holds no result: the run is redone, and its file replaced
        done = resumes_after(run) if state in ("missing", "corrupt") else None
        resumes = f" (resumes after {done})" if done else ""
        print(f"{state:8s} {'run ' if run.key in mine else '    '} {run.label:32s} {run.path}{resumes}")
    print(f"{len(runs)} runs; {len(mine)} to run in shard {shard[0]}/{shard[1]}")


def launch_slurm(p, args, runs, spec, experiment, argv):
    """--launcher slurm: submit what is pending, say how to follow it; with --wait, wait and print the tables."""
    import shlex

    from amplify.results import check_writable
    from bench.grid import slurm

    if args.shard != "0/1" or args.jobs or args.in_process:
        p.exit(2, f"{p.prog}: error: --launcher slurm runs one run per array task: drop --shard, --jobs, "
                  "--in-process\n")
    try:
        check_writable(Path(args.results) / ".slurm" / "write-probe")
        opts = slurm.SlurmOptions(partition=args.slurm_partition, time_min=args.slurm_time, cpus=args.slurm_cpus,
                                  gpus=args.slurm_gpus, mem=args.slurm_mem, parallel=args.slurm_parallel,
                                  extra=slurm.parse_extra(args.slurm_extra))
        warning = slurm.check_shared_locks(args.results)
        if warning:
            print(warning, file=sys.stderr)
        before = slurm.attempts(runs) if args.retry_failed else {}
        job, submitted, queued = slurm.submit(runs, opts, retry_failed=args.retry_failed,
                                              save_models=args.save_models, tensorboard=args.tensorboard,
                                              threads=args.threads, checkpoints=not args.no_checkpoints)
    except (ValueError, ImportError, RuntimeError, OSError) as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    got = collect(runs)
    print(f"{len(runs)} runs in the grid: {len(got['ok'])} ok, {len(got['failed'])} failed, {len(queued)} already "
          f"queued or running, {len(submitted)} submitted", file=sys.stderr)
    folder = Path(args.results).resolve() / ".slurm"
    if job:
        print(f"submitted Slurm job array {job} ({len(submitted)} tasks, one run each)")
        print(f"  follow it:  squeue -j {job}   |   tail -f {folder}/{job}_*/{job}_*_0_log.err")
    again = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--wait"]
    print(f"  tables when it is done:  python -m bench.compare {shlex.join(again + ['--report-only'])}")
    print(f"  resubmit what is missing (after a scancel or a time limit): python -m bench.compare {shlex.join(again)}")
    if not args.wait:
        return 0
    retried = {r.path.name: before[r.path.name] for r in submitted if r.path.name in before}  # failed, resubmitted
    left = slurm.wait(runs, args.results, poll_s=args.slurm_poll, progress=not args.quiet,
                      log=lambda m: print(m, file=sys.stderr), retried=retried)
    got = collect(runs)
    stop = Path(args.results) / "STOP"
    if left and stop.exists():
        print(f"{len(left)} runs have no result: {stop} exists, so their tasks started no run; delete it and run "
              f"the same command again to submit them", file=sys.stderr)
    elif left:
        print(f"{len(left)} runs have no result and no live task (cancelled, timed out or a node failed): "
              f"{', '.join(r.label for r in left[:10])}; run the same command again to resubmit them (logs in "
              f"{folder})", file=sys.stderr)
    print(report(runs, spec, experiment, args, got))
    return 1 if incomplete(got) else 0


def main(argv=None):
    p, args = parse(argv)
    if args.speed is not None and not (args.claims or EXPERIMENTS[args.experiment].reads_speed):
        p.error("--speed is read by --claims and by the figure4 experiments only")
    if args.speed is not None and not args.claims:
        from bench.report.speed_files import interleaved_steps

        try:
            interleaved_steps(args.speed)  # a bad file fails now, in one line, not after the report's tests
        except ValueError as e:
            p.error(str(e))
    if args.claims:
        return check_claims(p, args)
    if args.launcher == "slurm" and args.device == "auto":  # a login node may have no GPU: say what the nodes use
        args.device = "cuda" if args.slurm_gpus else "cpu"
    try:
        shard = parse_shard(args.shard)
        experiment, spec, runs = make_plan(args)
    except ValueError as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    if args.dry_run:
        dry_run(runs, shard, args.retry_failed)
        return 0
    if args.report_only:
        got = collect(runs)
        print(report(runs, spec, experiment, args, got))
        return 1 if incomplete(got) else 0
    if args.tensorboard:
        from amplify.logs import check_tensorboard

        try:
            check_tensorboard()
        except ImportError as e:
            p.exit(2, f"{p.prog}: error: {e}\n")
    if args.launcher == "slurm":
        return launch_slurm(p, args, runs, spec, experiment, argv)
    check_results_dir(p, args, runs)
    rank = run_grid(args, runs, shard)
    if rank is None:
        return 130
    if rank != 0:
        return 0
    return finish(runs, spec, experiment, args, shard)


def check_claims(p, args):
    """--claims: the paper's claims against the stored results; trains nothing."""
    from bench.report.claims import claims_report

    try:
        only = {k: getattr(args, k) for k in ("datasets", "seeds") if k in args.explicit}
        print(claims_report(args.results, alpha=args.sig_alpha, fmt=args.format, out=args.out, speed=args.speed,
                            resampling=ResamplePlan(args.bootstrap, args.resample_seed, args.bootstrap_max),
                            also=args.also_read, **only))
    except ValueError as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    return 0


def check_results_dir(p, args, runs):
    """Fail now, in one line, if the results folder cannot take files (not after the first run); then copy in
    what --reuse offers."""
    from amplify.results import check_writable

    try:
        check_writable(Path(args.results) / ".locks" / "write-probe")
    except OSError as e:
        p.exit(2, f"{p.prog}: error: --results {args.results} cannot hold result files: {e.strerror or e}\n")
    if args.reuse:
        if not Path(args.reuse).is_dir():
            p.exit(2, f"{p.prog}: error: --reuse {args.reuse} is not a directory of result files\n")
        copied = reuse_finished(runs, args.reuse)
        print(f"--reuse: {len(copied)} finished runs copied from {args.reuse}", file=sys.stderr)


def run_grid(args, runs, shard):
    """Train this process's share of the pending runs (its shard, and its rank's part under torchrun). Returns
    the rank, or None when Ctrl-C stopped it."""
    from amplify.threads import pick_threads, usable_cpus
    from bench.grid.runner import barrier, dist_close, dist_init, grid_stamp, rank_device, run_share

    info = dist_init()
    try:
        barrier(info)  # everyone reads the directory before anyone writes to it (bench/grid/plan.py)
        pending = to_do(shard_of(runs, shard), args.retry_failed)
        share = assigned([run for run, _ in pending], info.rank, info.world)
        barrier(info)  # ...and no rank writes before every rank has its share (a fast failure would shift them)
        if info.rank == 0:
            where = f" in shard {shard[0]}/{shard[1]}" if shard[1] > 1 else ""
            procs = f" over {info.world} processes" if info.world > 1 else ""
            print(f"{len(runs)} runs in the grid; {len(pending)} to run{where}{procs} -> {args.results}",
                  file=sys.stderr)
        Path(args.results).mkdir(parents=True, exist_ok=True)
        stop_file = Path(args.results) / "STOP"  # touch it to end the grid after the runs in flight
        if info.rank == 0 and stop_file.exists():
            print(f"{stop_file} exists, so no run will start: delete it to run the grid", file=sys.stderr)
        device = rank_device(args.device, info)
        jobs = args.jobs or (usable_cpus() if info.world == 1 and device_type(device) == "cpu" else 1)
        finished = [(run.cfg, res["wall_time_s"]) for run, res in collect(runs)["ok"] if res.get("wall_time_s")]
        run_share(share, grid_stamp(info, shard), retry_failed=args.retry_failed, device=device,
                  progress=not args.quiet and info.rank == 0, in_process=args.in_process, jobs=jobs,
                  threads=pick_threads(args.threads, jobs=jobs), save_models=args.save_models,
                  tensorboard=args.tensorboard, stop_file=stop_file, checkpoints=not args.no_checkpoints,
                  finished=finished)
        barrier(info)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {args.results}, and the runs in flight their last finished "
              "epoch; run the same command again to resume", file=sys.stderr)
        return None
    finally:
        dist_close(info)
    return info.rank


def finish(runs, spec, experiment, args, shard):
    """Rank 0 after the grid: the tables, or, for one shard of an unfinished grid, how far the grid got."""
    stop_file = Path(args.results) / "STOP"
    if stop_file.exists():
        print(f"stopped by {stop_file}: finished runs are kept; delete it and run the same command again to go on",
              file=sys.stderr)
    got = collect(runs)
    if shard[1] > 1 and incomplete(got):  # other shards may still be working: say how far the grid got
        mine = collect(shard_of(runs, shard))
        print("\n".join(status_lines(runs, got, args)))
        print(f"shard {shard[0]}/{shard[1]} done ({len(mine['ok'])} of its {sum(map(len, mine.values()))} runs "
              "ok); the job that completes the grid prints the tables, or run again with --report-only")
        return 1 if incomplete(mine) else 0
    print(report(runs, spec, experiment, args, got))
    return 1 if incomplete(got) else 0


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
