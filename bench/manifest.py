"""
A results folder's manifest: what made its runs, read from the result files themselves.

    python -m bench.manifest bench/results/minilm-table2            # print it
    python -m bench.manifest bench/results/minilm-table2 --write    # write FOLDER/MANIFEST.md

Every run's JSON records its config, status, the git commit of the code that trained it, the machine, and when
its grid attempt started and finished (amplify/results.py, bench/grid/runner.py). The manifest gathers them:
the presets that fill the folder, how many runs of which datasets, methods and seeds, the training commits,
the machines, the date range and the runs' own wall time. It is generated, never edited: tests/test_manifest.py
checks every committed MANIFEST.md against this module's output.

A folder of figures and tables drawn from runs kept in other folders (the forest plot, the few-label gain
picture) gets the list of its files and the commands that write them: the presets that name it, and the
`bench.compare ... --out FOLDER` commands the README and docs give for it.

A folder of performance benchmarks (bench.speed and its siblings: JSONs with a "benchmark" and its "command") gets
a table of them instead: per file the command that reproduces it, the commit of the code it timed, the threads
and the machine's load. Those files record no date; the manifest gives their code commits' dates (from git).
What each measurement was for, and what it was compared with, is hand-written beside it (NOTES.md or README.md),
which the manifest names.
"""

import argparse
import re
import subprocess
import sys
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

from amplify.results import REPO, read_json, write_text_atomic

BENCHMARKS = {  # a benchmark JSON's "benchmark" -> what it times (docs/performance.md has the results)
    "speed": "`python -m bench.speed`: training steps (forward, backward, optimiser) of each method and of Hugging "
             "Face's BERT, interleaved in one process",
    "allocator": "`python -m bench.speed.allocator`: the same steps with glibc's usual malloc and with freed memory "
                 "kept, in two processes stepping in lockstep",
    "grid-throughput": "`python -m bench.speed.grid_throughput`: finished runs per hour of one small grid run in "
                       "several ways",
    "whole-run": "`python -m bench.speed.whole_run`: whole runs, start to result, `run.py` against the same run "
                 "around Hugging Face's model",
}
NOTES = ("README.md", "NOTES.md")  # hand-written, beside the generated MANIFEST.md


def results_of(folder):
    """Every JSON of `folder`, parsed once: [(path, result)], sorted by file name (None for an unreadable file)."""
    return [(path, read_json(path)) for path in sorted(Path(folder).glob("*.json"))]


def runs_of(folder, results=None):
    """The run results of `folder` (JSONs with a config and a status), sorted by file name. results: the
    folder's results_of, when already read."""
    results = results_of(folder) if results is None else results
    return [r for _, r in results if isinstance(r, dict) and isinstance(r.get("config"), dict) and "status" in r]


def benchmarks_of(folder, results=None):
    """The performance-benchmark results of `folder` (JSONs with a "benchmark" and a "command"), sorted by file
    name: [(path, result)]. results: the folder's results_of, when already read."""
    results = results_of(folder) if results is None else results
    return [(p, r) for p, r in results if isinstance(r, dict) and "benchmark" in r and "command" in r]


def commit_date(commit):
    """The commit's date (YYYY-MM-DD) from this checkout's git, or "?" (no git, or a commit it does not hold)."""
    try:
        out = subprocess.run(["git", "show", "-s", "--format=%cs", commit.removesuffix("-dirty")], cwd=REPO,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "?"


def load_before(result):
    """The 1-minute load average when the benchmark started, as the file records it (two schemas), or "?"."""
    for key, pick in (("load_avg_1min", lambda v: v), ("load_avg", lambda v: v[0])):
        try:
            return f"{float(pick(result[key]['before'])):.1f}"
        except (KeyError, TypeError, IndexError, ValueError):
            continue
    return "?"


def benchmark_lines(found):
    """The manifest's section on the benchmark files `found` (benchmarks_of's list)."""
    env = [r.get("env") or {} for _, r in found]
    commits = [(e.get("git_commit") or "unknown")[:12] + ("-dirty" if str(e.get("git_commit")).endswith("-dirty")
                                                          else "") for e in env]
    dates = sorted(d for d in (commit_date(c) for c in set(commits) if c != "unknown") if d != "?")
    kinds = Counter(r["benchmark"] for _, r in found)
    lines = ["", "## Benchmark files", ""]
    lines += [f"- {BENCHMARKS.get(k, f'`{k}`')}: {n} file(s)" for k, n in sorted(kinds.items())]
    lines.append(f"- Code timed (git commit): {counted(Counter(commits))}")
    machines = Counter(f"{r.get('cpu', e.get('platform', '?'))} ({e.get('cpu_count', '?')} CPUs, torch "
                       f"{e.get('torch', '?')})" for (_, r), e in zip(found, env, strict=True))
    lines.append(f"- Machines: {counted(machines, '; ')}")
    if dates:
        span = f"are from {dates[0]} to {dates[-1]}" if dates[0] != dates[-1] else f"are of {dates[0]}"
        lines.append(f"- Dates: the timed code's commits {span} (a benchmark file records no date of its own; each "
                     "was measured at or after its commit)")
    lines += ["- Reproduce: each file's command, from the checkout's root (without `--out` it writes into "
              "results/; the numbers move with the machine and its load)", "",
              "| file | command | code | threads | load avg (1 min) at start |", "|---|---|---|---:|---:|"]
    for (path, r), commit in zip(found, commits, strict=True):
        command = re.sub(r" --out \S+", "", r["command"])
        lines.append(f"| {path.name} | `{command}` | {commit} | {r.get('threads', '–')} | {load_before(r)} |")
    return lines


def counted(counter, sep=", "):
    return sep.join(f"{k} {n}" for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def manifest(folder, presets):
    """The manifest's Markdown text. presets: {name: results folder} of bench/presets.py."""
    folder = Path(folder)
    results = results_of(folder)  # each file read once for both views
    runs = runs_of(folder, results)
    cfg = [r["config"] for r in runs]
    env = [r.get("env") or {} for r in runs]
    grid = [r.get("grid") or {} for r in runs]
    named = sorted(name for name, where in presets.items() if where and Path(where) == folder)
    started = sorted(g["started_at"] for g in grid if g.get("started_at"))
    finished = sorted(g["finished_at"] for g in grid if g.get("finished_at"))
    hours = sum(r.get("wall_time_s") or 0.0 for r in runs) / 3600
    lines = [f"# {folder.name}", "", "Generated by `python -m bench.manifest " + folder.as_posix() + " --write` "
             "from the result files; do not edit.", ""]
    notes = [name for name in NOTES if (folder / name).is_file()]
    if notes:
        lines.append("- Hand-written notes beside it (what the files are for, their history): " + ", ".join(notes))
    found = benchmarks_of(folder, results)
    if not found and not runs:
        return "\n".join(lines + figure_lines(folder, named)) + "\n"
    if found and not runs:
        return "\n".join(lines + benchmark_lines(found)[1 if lines[-1] == "" else 0:]) + "\n"
    lines.append("- Presets: " + (", ".join(f"`python -m bench.compare --preset {n}`" for n in named)
                                  if named else "none names this folder (see the docs that cite it)"))
    lines.append(f"- Runs: {len(runs)} ({counted(Counter(r['status'] for r in runs))})")
    for key in ("dataset", "method", "seed", "model", "lr", "epochs", "shots", "step_budget", "noise"):
        values = Counter(str(c.get(key)) for c in cfg if c.get(key) is not None)
        if values:
            lines.append(f"- {key}: {counted(values)}")
    commits = Counter((e.get("git_commit") or "unknown")[:12] for e in env)
    lines.append(f"- Training code (git commit): {counted(commits)}")
    machines = Counter(f"{g.get('host', '?')} ({e.get('platform', '?')}, {e.get('cpu_count', '?')} CPUs, torch "
                       f"{e.get('torch', '?')}, {e.get('torch_threads', '?')} thread(s))"
                       for e, g in zip(env, grid, strict=True))
    lines.append(f"- Machines: {counted(machines, '; ')}")
    if started:
        lines.append(f"- Dates: first run started {started[0]}, last finished {finished[-1] if finished else '?'}")
    lines.append(f"- Runs' own wall time, summed: {hours:.1f} hours")
    return "\n".join(lines + (benchmark_lines(found) if found else [])) + "\n"


def figure_lines(folder, named):
    """A folder of figures and tables drawn from other folders' runs: its files, and the commands that write
    them, as the presets that name it and the README and docs pages that cite it give them."""
    ignore = folder / ".gitignore"  # what --out writes beside the kept files and the folder does not keep
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    ignored = [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]
    files = sorted(p.name for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name not in ("MANIFEST.md", *NOTES)
                   and not any(fnmatch(p.name, pattern) for pattern in ignored))
    lines = ["- Figures and tables made from runs kept elsewhere: " + (", ".join(files) or "none yet")]
    commands = [f"`python -m bench.compare --preset {n} --report-only`" for n in named]
    rel = folder.resolve().relative_to(REPO).as_posix() if folder.resolve().is_relative_to(REPO) else None
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))] if rel else []:
        for command in re.findall(r"python -m bench\.compare[^`\n;]*?--out " + re.escape(rel) + r"\b",
                                  page.read_text(encoding="utf-8")):
            commands.append(f"`{command}` ({page.relative_to(REPO).as_posix()})")
    lines.append("- Made by: " + ("; ".join(dict.fromkeys(commands)) or "no preset or doc names this folder"))
    return lines


def preset_folders():
    from bench.presets import PRESETS

    return {name: p.options.get("results") for name, p in PRESETS.items()}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.manifest",
                                description="Print (or write) a results folder's MANIFEST.md, from its result files.")
    p.add_argument("folder", help="a results folder, e.g. bench/results/minilm-table2")
    p.add_argument("--write", action="store_true", help="write FOLDER/MANIFEST.md (atomically) instead of printing")
    args = p.parse_args(argv)
    if not Path(args.folder).is_dir():
        p.exit(2, f"{p.prog}: error: {args.folder} is not a folder\n")
    text = manifest(args.folder, preset_folders())
    if args.write:
        write_text_atomic(Path(args.folder) / "MANIFEST.md", text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
