"""
A grid of runs on disk: which runs a grid holds, what each one's result file is called, which are done,
and which share of them this process runs.

    runs = [Run.of(cfg, "results/quick") for cfg in configs]
    for run in assigned(shard_of(runs, (0, 1)), rank=0, world=1):
        state, result = run.state()   # "ok" | "failed" | "missing" | "stale"

Run identity. A run's result file is `{dataset}-{method}-s{seed}-{key}.json`, key = the first 12 hex
digits of sha256 over the canonical JSON (sorted keys, no spaces) of the run's TrainConfig, with:
  - left out, because they say where things are or how chatty the loop is, not what is computed:
    data_dir, cache_dir, log_every. The data files themselves are not hashed here; every result stores
    the sha256 of the files it read (result["data"]["source"]), and the report warns when the runs of
    one dataset read different files.
  - `device` replaced by the device *type* it resolves to ("cpu" or "cuda"). CUDA trains under bf16
    autocast and CPU in fp32, so the two give different numbers and must not stand in for each other;
    cuda:0 and cuda:3 compute the same thing, so the index is dropped (torchrun ranks pick their own GPU).
  - the code itself is NOT in the key. A result file stores the git commit that produced it, and the
    report warns when one table mixes commits; after changing the training code, start a new
    results directory (or delete the old one) yourself. One exception: a method of one's own
    (--method path/to/file.py:Class, amplify/user_methods.py) adds the sha256 of the file that defines
    it, so editing that file re-runs it; its options (method_options) are config fields like any other.
    A stored result is checked against today's file, so a result of an older version is never read
    as this one's. Built-in methods' keys have no such field: they stay what they were.
  - fields left at TrainConfig's default are left out too. So a field added to TrainConfig later, with a
    default that keeps the old behaviour, changes no existing key: a grid that runs for days across code
    changes keeps its finished runs. This stays safe when a default changes: a stored file is used only
    if the key recomputed from its stored config under today's defaults is the wanted one (below), and a
    value that is no longer the default is then part of that key.

On resume a file is used only if its stored config has the wanted key too (a hand-edited or colliding
file, or one keyed under an older TrainConfig, is "stale": reported, moved to RESULTS/.stale/ and re-run;
bench/grid/runner.py). Files in the directory that belong to other
configurations are left alone and never read as this grid's.

States: ok (done, skipped on resume); failed (the run raised or its loss went non-finite: skipped, and
re-run by --retry-failed); missing (never finished: a run killed mid-way leaves no file, because results
are written atomically, amplify/results.py) and stale (see above) are run.

Who runs what. The grid's order is fixed (datasets, then methods, then seeds, as listed). `--shard i/N`
takes runs i, i+N, i+2N, ... of the full grid: the same share on every restart, so a Slurm array task
always owns the same runs, and shards never overlap. Within a shard, the torchrun ranks split the runs
that are not done yet round-robin (rank r takes pending runs r, r+W, ...). Every rank reads the directory
after a barrier and before anyone writes, so they see the same pending list; the per-run file lock in
bench/grid/runner.py guards the rest (two shells started on the same grid by mistake).
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from amplify.checkpoint import device_type
from amplify.results import read_json, write_json_atomic
from amplify.train import NOT_COMPUTED, TrainConfig
from amplify.user_methods import is_spec, label, source_hash

KEY_VERSION = 2  # bump when the rule below changes: every key changes with it
NOT_IN_KEY = NOT_COMPUTED  # data_dir, cache_dir, log_every
DEFAULTS = asdict(TrainConfig())


def identity(config, device=None):
    """The dict whose hash names a run. config: a TrainConfig or its asdict(); device: the device the run
    used (a stored result's "device"), else the config's own device resolved on this machine."""
    d = dict(config if isinstance(config, dict) else asdict(config))
    for name in NOT_IN_KEY:
        d.pop(name, None)
    d["device"] = device_type(device or d.get("device", "auto"))
    d = {k: v for k, v in d.items() if k not in DEFAULTS or k == "device" or v != DEFAULTS[k]}
    d["_key_version"] = KEY_VERSION
    if is_spec(d.get("method")):  # a user's method: its source file's hash (a built-in's key has no such field)
        d["method_source"] = source_hash(d["method"])
    return d


def run_key(config, device=None):
    canonical = json.dumps(identity(config, device), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Run:
    """One cell of a grid: a config and the one file its result lives in."""

    cfg: TrainConfig
    key: str
    path: Path

    @classmethod
    def of(cls, cfg, results_dir):
        key = run_key(cfg)
        return cls(cfg, key, Path(results_dir) / f"{cfg.dataset}-{label(cfg.method)}-s{cfg.seed}-{key}.json")

    @property
    def label(self):
        return f"{self.cfg.dataset}/{self.cfg.method}/s{self.cfg.seed}"

    def state(self):
        """(state, result): "ok" or "failed" with the stored result; "missing" (no file, or unreadable)
        or "stale" (a file whose stored config is not this run's) with None or the stored result."""
        result = read_json(self.path)
        if not isinstance(result, dict) or "status" not in result:
            return "missing", None
        stored = result.get("config")
        try:
            device = result.get("device") or stored.get("device")  # the device it ran on, e.g. "cuda:1"
            same = isinstance(stored, dict) and run_key(stored, device) == self.key
        except (ValueError, TypeError, AttributeError):
            same = False
        if not same:
            return "stale", result
        return ("ok" if result["status"] == "ok" else "failed"), result


def grid_configs(base, datasets, methods, seeds):
    """The Table-2 grid: datasets x methods x seeds over one base config, in that (fixed) order."""
    from dataclasses import replace

    return [replace(base, dataset=d, method=m, seed=s) for d in datasets for m in methods for s in seeds]


def plan(configs, results_dir, read=()):
    """Runs for a list of configs; refuses duplicates (two cells with one key would share one file).

    read: other results folders (bench.compare --also-read), searched in order for each run's file after
    results_dir. A run whose finished ("ok") result one of them holds, and results_dir does not, is that file:
    read in place, never copied, run or written (a failed or stale file there is ignored, so that nothing is ever
    trained into a folder that is only read). The noise tables' clean column is minilm-table2's runs this way."""
    runs, seen = [], {}
    for cfg in configs:
        run = _found(Run.of(cfg, results_dir), read)
        if run.key in seen:
            raise ValueError(f"the grid lists the same run twice: {run.label} (key {run.key}); "
                             "remove the repeated dataset, method or seed")
        seen[run.key] = run
        runs.append(run)
    return runs


def finished_twin(run, folder):
    """The same run's file in another folder (the same config gives the same file name), if it holds a finished
    result; else None."""
    twin = Run(run.cfg, run.key, Path(folder) / run.path.name)
    return twin if twin.state()[0] == "ok" else None


def _found(run, read):
    """run, or its finished twin in the first folder of `read` that has one, when run's own file does not exist."""
    if run.path.exists():
        return run
    return next(filter(None, (finished_twin(run, folder) for folder in read)), run)


def parse_shard(text):
    """"i/N" -> (i, N), 0 <= i < N."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard expects i/N such as 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard {text}: need N >= 1 and 0 <= i < N (shards are numbered from 0)")
    return i, n


def shard_of(runs, shard=(0, 1)):
    i, n = shard
    return runs[i::n]


def to_do(runs, retry_failed=False):
    """The runs of `runs` that still need running, with the state each was found in."""
    todo = []
    for run in runs:
        state, _ = run.state()
        if state in ("missing", "stale") or (state == "failed" and retry_failed):
            todo.append((run, state))
    return todo


def reuse_finished(runs, folder):
    """Copy into the grid each finished result of the same run that `folder` holds (the same config gives the
    same file name; a run is a deterministic function of its config on CPU), for the runs the grid has no file
    for. Never replaces a file. Returns the runs copied."""
    copied = []
    for run in runs:
        twin = None if run.path.exists() else finished_twin(run, folder)
        if twin is not None:
            run.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(run.path, read_json(twin.path))
            copied.append(run)
    return copied


def assigned(pending, rank=0, world=1):
    """Rank r's share of the pending runs: r, r + W, r + 2W, ..."""
    return pending[rank::world]


def collect(runs):
    """Read every run of the grid: {"ok": [(run, result)], "failed": [...], "missing": [run], "stale": [run]}."""
    out = {"ok": [], "failed": [], "missing": [], "stale": []}
    for run in runs:
        state, result = run.state()
        out[state].append((run, result) if state in ("ok", "failed") else run)
    return out


def unreadable(runs):
    """The runs whose file exists but holds no result of run.py (truncated, not JSON, another schema): counted
    as missing or stale, and named, so that the user knows which file is corrupt."""
    def corrupt(path):
        result = read_json(path)
        return not isinstance(result, dict) or "status" not in result or not isinstance(result.get("config"), dict)

    return [run for run in runs if run.path.exists() and corrupt(run.path)]


def foreign_files(runs, results_dir):
    """Result files in the directory that belong to none of these runs (other configs): counted, not read."""
    ours = {run.path.name for run in runs}
    return sorted(p.name for p in Path(results_dir).glob("*.json") if p.name not in ours)
