"""The grid machinery: run identity, states on disk, shares, locks, failures, and the two end-to-end
promises of bench.compare: a grid killed mid-way (SIGKILL, then Ctrl-C) resumes losing nothing and
duplicating nothing, and torchrun with 2 CPU processes runs every run exactly once."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from amplify.train import TrainConfig
from bench import compare
from bench.grid.plan import Run, assigned, foreign_files, parse_shard, plan, run_key, shard_of, to_do
from bench.grid.runner import _exit_reason, run_lock, run_share, time_left

REPO = Path(__file__).resolve().parents[1]
TITLE = "### Test accuracy per method and dataset"


def cfg(**kw):
    return TrainConfig(model="tiny", **kw)


# -----------------------------------------------------------------------------
# identity and state


def test_key_ignores_locations_and_chatter_but_not_what_is_computed():
    base = cfg()
    assert run_key(base) == run_key(asdict(base))
    for name, value in (("data_dir", "/x"), ("cache_dir", "/y"), ("log_every", 7)):
        assert run_key(replace(base, **{name: value})) == run_key(base), name
    for name, value in (("lr", 1e-4), ("seed", 1), ("eval_batch_size", 64), ("noise", "swap"), ("bucket", True),
                        ("amplify_layers", [4]), ("max_steps", 10), ("pretrained", False), ("model", "minilm-l6")):
        assert run_key(replace(base, **{name: value})) != run_key(base), name


def test_a_new_field_at_its_default_changes_no_key(monkeypatch):
    import bench.grid.plan as grid

    base = cfg(lr=1e-4)
    before = run_key(base)
    stored = asdict(base)  # a result written before the field existed has no such key
    monkeypatch.setitem(grid.DEFAULTS, "new_option", False)  # TrainConfig grew `new_option: bool = False`
    assert run_key({**stored, "new_option": False}) == before == run_key(stored)
    assert run_key({**stored, "new_option": True}) != before
    # a default that changes later: a stored value that is no longer the default enters the key
    monkeypatch.setitem(grid.DEFAULTS, "lr", 1e-4)
    assert run_key(stored) != before


def test_key_uses_the_device_type():
    base = cfg(device="cpu")
    assert run_key(base) == run_key(base, device="cpu")
    assert run_key(replace(base, device="cuda")) == run_key(replace(base, device="cuda:3"))
    assert run_key(replace(base, device="cuda")) != run_key(base)  # bf16 autocast vs fp32: other numbers
    with pytest.raises(ValueError, match="not a device"):
        run_key(replace(base, device="gpu-please"))


def test_states(tmp_path):
    run = Run.of(cfg(), tmp_path)
    assert run.path.name == f"trec-coarse-amplify-s0-{run.key}.json" and run.state() == ("missing", None)
    run.path.write_text('{"status": "ok", "conf')  # torn file (only possible without the atomic write)
    assert run.state()[0] == "missing"
    good = {"status": "ok", "config": asdict(run.cfg), "device": "cpu"}
    run.path.write_text(json.dumps(good))
    assert run.state()[0] == "ok"
    run.path.write_text(json.dumps({**good, "status": "failed"}))
    assert run.state()[0] == "failed"
    run.path.write_text(json.dumps({**good, "config": {**good["config"], "lr": 0.5}}))
    assert run.state()[0] == "stale"
    run.path.write_text(json.dumps({**good, "device": "cuda:0"}))  # ran on a GPU: not this CPU run
    assert run.state()[0] == "stale"
    assert [s for _, s in to_do([run])] == ["stale"]
    gpu = Run.of(cfg(device="cuda"), tmp_path)
    gpu.path.write_text(json.dumps({**good, "config": {**good["config"], "device": "cuda:1"}, "device": "cuda:1"}))
    assert gpu.state()[0] == "ok"  # torchrun rank 1 on cuda:1 made the run asked as device "cuda"


def test_shards_and_ranks_cover_the_grid_once():
    runs = list(range(23))
    for n_shards in (1, 2, 5):
        for world in (1, 2, 3):
            got = [r for i in range(n_shards) for rank in range(world)
                   for r in assigned(shard_of(runs, (i, n_shards)), rank, world)]
            assert sorted(got) == runs
    assert shard_of(runs, (1, 4)) == [1, 5, 9, 13, 17, 21]  # fixed: the same share on every restart
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_lock_keeps_a_second_worker_off_a_busy_run(tmp_path, capsys):
    run = plan([cfg()], tmp_path)[0]
    with run_lock(run) as first:
        with run_lock(run) as second:
            assert first and not second
        outcome = run_share([run], {"rank": 0}, progress=False, in_process=True)
    assert outcome == {run.path.name: "skipped (busy)"} and not run.path.exists()
    with run_lock(run) as again:
        assert again  # released when its holder let go


def test_a_stop_file_lets_the_runs_in_flight_finish_and_starts_no_new_one(tmp_path, monkeypatch):
    runs = plan([cfg(seed=s) for s in range(4)], tmp_path)
    stop, started = tmp_path / "STOP", []

    def execute(run, grid, **kw):  # the first run to start asks for the stop while it trains
        started.append(run.path.name)
        stop.touch()
        time.sleep(0.2)  # the other job looks for new work meanwhile
        return {"status": "ok", "test_acc": 0.5, "best_epoch": 1}

    monkeypatch.setattr("bench.grid.runner.execute", execute)
    logs = []
    outcome = run_share(runs, {"rank": 0}, progress=False, jobs=2, stop_file=stop, log=logs.append)
    assert 1 <= len(started) <= 2  # in flight when STOP appeared: finished; nothing after it started
    assert all(outcome[name] == "ok" for name in started)
    assert sorted(outcome.values()).count("skipped (stop file)") == 4 - len(started)
    assert sum("STOP exists" in line for line in logs) >= 1


def test_progress_counts_runs_that_share_a_label_and_prices_only_whole_ok_runs(tmp_path, monkeypatch):
    """Three runs of one dataset/method/seed at three lr (the recipe experiment's case): one label, three runs.
    The first fails at once: the time left is then not guessed from it."""
    runs = plan([cfg(lr=lr) for lr in (1e-5, 2e-5, 3e-5)], tmp_path)
    assert len({r.label for r in runs}) == 1

    def execute(run, grid, **kw):
        if run is runs[0]:
            return {"status": "failed", "error": "NonFiniteLoss: at step 3"}
        time.sleep(0.05)
        return {"status": "ok", "test_acc": 0.5, "best_epoch": 1}

    monkeypatch.setattr("bench.grid.runner.execute", execute)
    logs = []
    outcome = run_share(runs, {"rank": 0}, progress=False, log=logs.append)
    assert outcome == {runs[0].path.name: "failed", runs[1].path.name: "ok", runs[2].path.name: "ok"}
    done = [line for line in logs if "FAILED" in line or "test acc" in line]
    assert done[0].endswith("; 2 left") and "about" not in done[0]  # a failure prices nothing
    assert "; 1 left, about 0 min" in done[1] and "left" not in done[2]


def test_time_left_prices_each_run_by_its_cell_else_its_dataset_else_all():
    runs = plan([cfg(dataset=d, method=m) for d in ("trec-coarse", "sst-2", "mrpc") for m in ("none", "amplify")],
                Path("unused"))
    seconds = {("trec-coarse", "none"): [400, 500, 9000], ("trec-coarse", "amplify"): [600],
               ("sst-2", "none"): [1500, 1700]}
    # trec-coarse: its cells' medians 500 and 600; sst-2: none 1600, amplify the dataset's median (1600);
    # mrpc, no finished run: the median of all six finished runs (1050), twice
    assert time_left(runs, seconds) == 500 + 600 + 1600 + 1600 + 1050 + 1050
    assert time_left(runs, seconds, jobs=2) == (500 + 600 + 1600 + 1600 + 1050 + 1050) / 2
    assert time_left(runs, {}) is None and time_left([], seconds) == 0


def test_the_eta_starts_from_the_grids_finished_runs(tmp_path, monkeypatch):
    runs = plan([cfg(seed=s) for s in range(3)], tmp_path)
    monkeypatch.setattr("bench.grid.runner.execute", lambda run, grid, **kw: {"status": "ok", "test_acc": 0.5,
                                                                               "best_epoch": 1})
    logs = []
    run_share(runs, {"rank": 0}, progress=False, log=logs.append, finished=[(runs[0].cfg, 1200.0)] * 3)
    done = [line for line in logs if "test acc" in line]
    assert "; 2 left, about 40 min" in done[0]  # 2 x the earlier runs' 20 minutes (this one took ~0 s)


def test_a_result_the_directory_would_not_take_is_recorded_with_where_it_is(tmp_path, monkeypatch):
    """A full disk at the moment of writing: the finished result goes to the temporary directory, and the run's
    record says so (in-process, and as the parent of a child process finds it, by the attempt id)."""
    import tempfile

    from amplify.results import write_json_atomic
    from bench.grid import runner

    run = plan([cfg()], tmp_path / "r")[0]
    run.path.parent.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("amplify.train.train", lambda cfg, **kw: {"status": "ok", "test_acc": 0.5})

    def full_disk(path, obj):
        fallback = tmp_path / f"{Path(path).stem}.x1.json"
        write_json_atomic(fallback, obj)
        return fallback, OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "write_json_or_fallback", full_disk)
    result = runner.execute(run, {"rank": 0}, progress=False, in_process=True)
    saved = tmp_path / f"{run.path.stem}.x1.json"
    assert result["status"] == "failed" and f"saved in {saved}" in result["error"]
    assert run.state()[0] == "failed" and json.loads(saved.read_text())["status"] == "ok"
    attempt = json.loads(saved.read_text())["grid"]["attempt"]
    assert runner._saved_elsewhere(run, attempt) == saved and runner._saved_elsewhere(run, "another") is None


def test_a_stale_file_is_moved_aside_before_the_run_writes_its_own(tmp_path, monkeypatch):
    run = plan([cfg()], tmp_path)[0]
    other = {"status": "ok", "config": {**asdict(run.cfg), "lr": 0.5}, "device": "cpu", "test_acc": 0.9}
    run.path.write_text(json.dumps(other))
    assert run.state()[0] == "stale"

    def execute(run, grid, **kw):
        assert not run.path.exists()  # nothing of the old file is in the way, nor overwritten
        run.path.write_text(json.dumps({"status": "ok", "config": asdict(run.cfg), "device": "cpu"}))
        return {"status": "ok", "test_acc": 0.5, "best_epoch": 1}

    monkeypatch.setattr("bench.grid.runner.execute", execute)
    logs = []
    assert run_share([run], {"rank": 0}, progress=False, log=logs.append) == {run.path.name: "ok"}
    (kept,) = (tmp_path / ".stale").glob(f"{run.path.stem}.*.json")
    assert json.loads(kept.read_text()) == other and run.state()[0] == "ok"
    assert any("moved to" in line and str(kept) in line for line in logs)
    assert foreign_files([run], tmp_path) == []  # the kept file is not read as another config's result


def test_grid_started_with_a_stop_file_trains_nothing_and_says_why(data_dir, tmp_path, capsys):
    results = tmp_path / "r"
    results.mkdir()
    (results / "STOP").touch()
    assert compare.main(smoke_args(results, data_dir, tmp_path / "c")) == 1  # incomplete
    err = capsys.readouterr().err
    assert "STOP exists, so no run will start" in err and "stopped by" in err
    assert not list(results.glob("*.json"))


def test_exit_reasons_are_words():
    assert "killed by SIGKILL (out of memory?)" in _exit_reason(-9)
    assert "exited with code 3" in _exit_reason(3)


# -----------------------------------------------------------------------------
# failures


def smoke_args(results, data_dir, cache, *extra):
    return ["--preset", "smoke", "--results", str(results), "--data-dir", str(data_dir), "--cache-dir", str(cache),
            "--quiet", *extra]


def test_failed_run_is_recorded_skipped_and_retried(data_dir, tmp_path, capsys):
    one = ["--methods", "none", "--seeds", "0"]
    empty = tmp_path / "no-data"
    empty.mkdir()
    # in a child process: the exception is written down as the run's failure and the grid goes on
    assert compare.main(smoke_args(tmp_path / "r", empty, tmp_path / "c", *one)) == 1
    out = capsys.readouterr().out
    (path,) = (tmp_path / "r").glob("*.json")
    failed = json.loads(path.read_text())
    assert failed["status"] == "failed" and "trec" in failed["error"] and "Traceback" in failed["traceback"]
    assert failed["grid"]["rank"] == 0 and "Failed runs (1)" in out and "0 ok, 1 failed" in out
    stamp = path.stat().st_mtime_ns
    # skipped on resume (data_dir is not part of the key: fixing the data is what --retry-failed is for)
    assert compare.main(smoke_args(tmp_path / "r", data_dir, tmp_path / "c", *one)) == 1
    assert path.stat().st_mtime_ns == stamp and "1 runs in the grid; 0 to run" in capsys.readouterr().err
    assert compare.main(smoke_args(tmp_path / "r", data_dir, tmp_path / "c", *one, "--retry-failed",
                                   "--in-process")) == 0
    assert json.loads(path.read_text())["status"] == "ok" and len(list((tmp_path / "r").glob("*.json"))) == 1


# -----------------------------------------------------------------------------
# end to end: kill and resume, torchrun


def wait_for(predicate, proc, timeout=300, what="condition"):
    t0 = time.monotonic()
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the grid exited ({proc.returncode}) before {what}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def children(pid):
    """Live (non-zombie) processes whose parent is pid, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in "ZX":
            out.append(int(stat.parent.name))
    return out


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in "ZX"


def snapshot(results):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in results.glob("*.json")}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_grid_resumes_without_losing_or_duplicating(data_dir, tmp_path):
    results = tmp_path / "r"
    # --jobs 1: one run at a time, so a run is always in flight when a signal lands (with two side by side,
    # both could finish at once and leave nothing to interrupt)
    cmd = [sys.executable, "-m", "bench.compare", *smoke_args(results, data_dir, tmp_path / "c", "--jobs", "1")]
    log = open(tmp_path / "log.txt", "w")  # noqa: SIM115 -- closed at the end; a pipe could fill up and block

    # 1. SIGKILL once the first run is written: the run in flight dies with the grid (no orphan keeps training)
    # The test relies on the default SIGINT disposition in the grid; a pytest started with SIGINT ignored
    # (`nohup ... &` from a script) would pass the ignored signal on to its children, so reset it here.
    default_sigint = dict(preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, **default_sigint)
    wait_for(lambda: len(snapshot(results)) >= 1, proc, what="the first result")
    kids = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t0 = time.monotonic()
    while any(alive(k) for k in kids) and time.monotonic() - t0 < 20:
        time.sleep(0.1)
    assert not any(alive(k) for k in kids), "a training process outlived the killed grid"
    done = snapshot(results)
    assert 1 <= len(done) <= 2  # one run at a time: the first written, at most the second as the kill landed

    # 2. Ctrl-C (SIGINT to the process group) once one more run is written: a clean stop, exit 130, nothing
    # finished is touched (a run that finished as the signal came is kept: phase 3 then has one run less to do)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            **default_sigint)
    wait_for(lambda: len(snapshot(results)) > len(done), proc, what="one more result")
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert {k: v for k, v in snapshot(results).items() if k in done} == done
    done = snapshot(results)

    # 3. run to the end: only the missing runs are trained, the finished files are not touched
    log.close()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"4 runs in the grid; {4 - len(done)} to run" in out.stderr
    final = snapshot(results)
    assert len(final) == 4 and {k: final[k] for k in done} == done
    assert all(json.loads((results / name).read_text())["status"] == "ok" for name in final)
    assert not list(results.glob("*.ckpt.pt"))  # a killed run's checkpoint goes once its result is written
    assert out.stdout.count(TITLE) == 1 and "4 ok, 0 failed, 0 missing" in out.stdout
    trained = [line for line in out.stderr.splitlines() if ": test acc " in line]
    assert len(trained) == 4 - len(done)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_run_each_run_once(data_dir, tmp_path):
    results = tmp_path / "r"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "bench.compare",
           *smoke_args(results, data_dir, tmp_path / "c", "--in-process")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    files = sorted(results.glob("*.json"))
    assert len(files) == 4
    grids = [json.loads(p.read_text())["grid"] for p in files]
    assert sorted(g["rank"] for g in grids) == [0, 0, 1, 1] and {g["world_size"] for g in grids} == {2}
    for p in files:  # every run trained exactly once, by one rank
        c = json.loads(p.read_text())["config"]
        assert text.count(f"{c['dataset']}/{c['method']}/s{c['seed']}: test acc") == 1, p.name
    assert text.count(TITLE) == 1  # rank 0 reports, once, after both are done
    assert "4 ok, 0 failed, 0 missing" in out.stdout


def test_shards_fill_one_directory_and_the_last_one_prints_the_tables(data_dir, tmp_path, capsys):
    args = smoke_args(tmp_path / "r", data_dir, tmp_path / "c", "--methods", "none", "--in-process")
    assert compare.main([*args, "--shard", "1/2"]) == 0  # seed 1
    out = capsys.readouterr().out
    assert TITLE not in out and "2 runs in" in out and "1 ok, 0 failed, 1 missing" in out
    assert "shard 1/2 done (1 of its 1 runs ok)" in out
    assert compare.main([*args, "--shard", "0/2"]) == 0  # seed 0 completes the grid
    out = capsys.readouterr().out
    assert out.count(TITLE) == 1 and "2 ok, 0 failed, 0 missing" in out
    shards = sorted(json.loads(p.read_text())["grid"]["shard"] for p in (tmp_path / "r").glob("*.json"))
    assert shards == ["0/2", "1/2"]


@pytest.mark.slow
def test_jobs_run_side_by_side_each_run_once(data_dir, tmp_path, capsys):
    results = tmp_path / "r"
    assert compare.main(smoke_args(results, data_dir, tmp_path / "c", "--jobs", "2", "--threads", "1")) == 0
    err = capsys.readouterr().err
    files = sorted(results.glob("*.json"))
    assert len(files) == 4 and all(json.loads(f.read_text())["status"] == "ok" for f in files)
    assert all(json.loads(f.read_text())["env"]["torch_threads"] == 1 for f in files)
    assert err.count(": test acc ") == 4 and "left, about" in err and "grid share done" in err
    # started again: nothing to run
    assert compare.main(smoke_args(results, data_dir, tmp_path / "c", "--jobs", "2")) == 0
    assert "4 runs in the grid; 0 to run" in capsys.readouterr().err
