"""A killed run resumes from its last epoch's checkpoint with the numbers of an uninterrupted run."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import amplify.checkpoint as ckpt
import amplify.train as T
import run
from amplify.train import TrainConfig, train
from bench import compare

REPO = Path(__file__).resolve().parents[1]
# what may differ between an uninterrupted run and a resumed one: time, memory, the processes' records
CLOCK = {"train_time_s", "mean_step_s", "samples_per_s", "wall_time_s", "peak_memory_mb", "env", "resumed"}


class Killed(BaseException):
    """Stands for the process dying right after a checkpoint is written (not caught by train())."""


def kill_after(monkeypatch, epoch):
    """Make the checkpoint of `epoch` the last thing the process does."""
    real = ckpt.save

    def save(path, **kw):
        assert real(path, **kw) is None
        if kw["epoch"] == epoch:
            raise Killed

    monkeypatch.setattr(ckpt, "save", save)


def numbers(result):
    """Everything a run computed, without its clock and process records."""
    out = {k: v for k, v in result.items() if k not in CLOCK}
    out["epochs"] = [{k: v for k, v in row.items() if k != "train_time_s"} for row in result["epochs"]]
    return out


def tiny_cfg(data_dir, tmp_path, **kw):
    base = dict(model="tiny", dataset="trec-coarse", method="amplify", epochs=5, patience=3, train_limit=96,
                eval_limit=64, batch_size=16, max_length=32, lr=1e-3, data_dir=str(data_dir),
                cache_dir=str(tmp_path / "cache"))
    return TrainConfig(**{**base, **kw})


def scripted_dev(monkeypatch, accs, start=0):
    """Dev accuracy from a script (so that the best epoch is known); test is evaluated for real."""
    real, calls = T.evaluate, [start]

    def evaluate(model, encoded, cfg, device, amp):
        result = real(model, encoded, cfg, device, amp)
        if encoded.name.endswith("/dev"):
            result["acc"], calls[0] = accs[calls[0]], calls[0] + 1
        return result

    monkeypatch.setattr(T, "evaluate", evaluate)


@pytest.mark.parametrize("each_epoch", [False, True])
@pytest.mark.parametrize("killed_after", [2, 3])  # best epoch (2) = the checkpoint's own, or an earlier one
def test_resumed_run_equals_an_uninterrupted_one(data_dir, tmp_path, monkeypatch, capsys, killed_after,
                                                 each_epoch):
    accs = [0.5, 0.9, 0.6, 0.7, 0.65]  # best at epoch 2; patience 3 stops after epoch 5
    cfg = tiny_cfg(data_dir, tmp_path, eval_test_each_epoch=each_epoch)
    path = tmp_path / "r.ckpt.pt"
    with monkeypatch.context() as m:
        scripted_dev(m, accs)
        whole = train(cfg, progress=False, steps_csv=tmp_path / "whole.csv")
    with monkeypatch.context() as m:
        scripted_dev(m, accs)
        kill_after(m, killed_after)
        with pytest.raises(Killed):
            train(cfg, progress=False, checkpoint=path, steps_csv=tmp_path / "killed.csv")
    assert ckpt.epochs_done(path) == killed_after and not (tmp_path / "killed.csv").exists()
    with monkeypatch.context() as m:
        scripted_dev(m, accs, start=killed_after)
        resumed = train(cfg, progress=False, checkpoint=path, steps_csv=tmp_path / "resumed.csv",
                        out=tmp_path / "r.json")
    assert f"resuming {path} after epoch {killed_after}" in capsys.readouterr().err
    assert whole["status"] == "ok" and whole["best_epoch"] == 2 and len(whole["epochs"]) == 5
    assert numbers(resumed) == numbers(whole)  # losses of every step, every epoch's row, test predictions, probs
    assert (tmp_path / "resumed.csv").read_text() == (tmp_path / "whole.csv").read_text()
    assert [r["after_epoch"] for r in resumed["resumed"]] == [killed_after] and "resumed" not in whole
    # both processes: the epochs before the kill were trained by the first, and its wall time is counted too
    assert resumed["wall_time_s"] >= sum(e["train_time_s"] for e in resumed["epochs"])
    assert not path.exists()  # removed with the result


def test_a_checkpoint_of_another_config_or_unreadable_starts_over(data_dir, tmp_path, monkeypatch, capsys):
    path = tmp_path / "r.ckpt.pt"
    with monkeypatch.context() as m:
        kill_after(m, 1)
        with pytest.raises(Killed):
            train(tiny_cfg(data_dir, tmp_path, epochs=2), progress=False, checkpoint=path)
    other = tiny_cfg(data_dir, tmp_path, epochs=2, seed=1)
    fresh = train(other, progress=False)
    got = train(other, progress=False, checkpoint=path)
    assert "another config (differs in seed); starting over" in capsys.readouterr().err
    assert numbers(got) == numbers(fresh) and "resumed" not in got
    path.write_bytes(b"not a checkpoint")  # e.g. truncated by a full disk
    assert ckpt.epochs_done(path) == 0 and ckpt.epochs_done(tmp_path / "none.pt") == 0
    got = train(other, progress=False, checkpoint=path)
    assert "cannot be read" in capsys.readouterr().err and numbers(got) == numbers(fresh)
    assert ckpt.epochs_done(path) == 1  # replaced by this run's own (the caller removes it after writing)


def test_where_files_are_how_often_it_logs_and_the_device_index_do_not_stop_a_resume(data_dir, tmp_path,
                                                                                     monkeypatch, capsys):
    """The run's key leaves these out (bench/grid/plan.py), so its checkpoint must too: a resumed run under
    torchrun may land on another GPU, and a grid may be resumed with another cache or data path."""
    from dataclasses import replace

    cfg = tiny_cfg(data_dir, tmp_path, epochs=2, device="auto")
    path = tmp_path / "r.ckpt.pt"
    whole = train(cfg, progress=False)
    with monkeypatch.context() as m:
        kill_after(m, 1)
        with pytest.raises(Killed):
            train(cfg, progress=False, checkpoint=path)
    moved = replace(cfg, log_every=7, device="cpu", cache_dir=str(tmp_path / "another-cache"))
    got = train(moved, progress=False, checkpoint=path)
    assert f"resuming {path} after epoch 1" in capsys.readouterr().err and got["resumed"]
    assert {**numbers(got), "config": None} == {**numbers(whole), "config": None}


def test_a_failed_checkpoint_write_warns_and_the_run_goes_on(data_dir, tmp_path, monkeypatch, capsys):
    def full_disk(obj, f):
        raise OSError(28, "No space left on device")

    cfg = tiny_cfg(data_dir, tmp_path, epochs=2)
    whole = train(cfg, progress=False)
    monkeypatch.setattr(ckpt.torch, "save", full_disk)
    got = train(cfg, progress=False, checkpoint=tmp_path / "r.ckpt.pt")
    err = capsys.readouterr().err
    assert "could not write" in err and "No space left on device" in err and "training goes on" in err
    assert numbers(got) == numbers(whole) and not list(tmp_path.glob("*ckpt*"))  # no file, no temporary left


TINY = ["--model", "tiny", "--epochs", "3", "--patience", "3", "--train-limit", "64", "--eval-limit", "32",
        "--batch-size", "16", "--max-length", "32", "--lr", "1e-3", "--quiet", "--threads", "1"]  # the same sums


def test_run_py_continues_after_ctrl_c(data_dir, tmp_path, monkeypatch, capsys):
    def args(out, *extra):
        return [*TINY, "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out), *extra]

    assert run.main(args(tmp_path / "whole.json", "--no-checkpoint")) == 0
    assert not list(tmp_path.glob("*.ckpt.pt"))  # --no-checkpoint writes none
    out = tmp_path / "r.json"
    with monkeypatch.context() as m:
        real = ckpt.save

        def save_then_ctrl_c(path, **kw):
            real(path, **kw)
            raise KeyboardInterrupt

        m.setattr(ckpt, "save", save_then_ctrl_c)
        with pytest.raises(SystemExit) as stop:
            run.main(args(out))
    assert stop.value.code == 130 and not out.exists()
    assert f"the same command continues after epoch 1 ({tmp_path / 'r.ckpt.pt'})" in capsys.readouterr().err
    assert run.main(args(out)) == 0
    whole, resumed = (json.loads((tmp_path / f).read_text()) for f in ("whole.json", "r.json"))
    assert numbers(resumed) == numbers(whole) and resumed["resumed"][0]["after_epoch"] == 1
    assert not (tmp_path / "r.ckpt.pt").exists()


def test_run_py_killed_by_sigkill_continues_from_its_last_epoch(data_dir, tmp_path):
    """The real thing: a process killed without any chance to clean up (kill -9, the OOM killer)."""
    def cmd(out, *extra):
        return [sys.executable, "run.py", *TINY, "--epochs", "50", "--patience", "50", "--data-dir",
                str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out), *extra]

    whole = subprocess.run(cmd(tmp_path / "whole.json", "--no-checkpoint"), cwd=REPO, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr[-2000:]
    out, path = tmp_path / "r.json", tmp_path / "r.ckpt.pt"
    proc = subprocess.Popen(cmd(out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while ckpt.epochs_done(path) < 2 and proc.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = ckpt.epochs_done(path)
    assert 2 <= done < 50 and not out.exists(), "the run should be killed mid-way with a checkpoint written"
    again = subprocess.run(cmd(out), cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0 and f"resuming {path} after epoch" in again.stderr, again.stderr[-2000:]
    whole, resumed = (json.loads((tmp_path / f).read_text()) for f in ("whole.json", "r.json"))
    assert resumed["resumed"][0]["after_epoch"] >= done and numbers(resumed) == numbers(whole)
    assert not path.exists() and not list(tmp_path.glob(".*.tmp"))


def test_discard_removes_what_a_process_killed_mid_write_left(tmp_path):
    """save() writes `.NAME.PID.tmp` then renames it; a SIGKILL between the two leaves the temporary file
    (250-350 MiB for MiniLM). Once the run's result is written, discard removes it with the checkpoint, and
    nothing of another run."""
    path = tmp_path / "run-a.ckpt.pt"
    left = [path, tmp_path / ".run-a.ckpt.pt.4242.tmp", tmp_path / ".run-a.ckpt.pt.17.tmp"]
    other = [tmp_path / ".run-b.ckpt.pt.4242.tmp", tmp_path / "run-b.ckpt.pt", tmp_path / "run-a.json"]
    for f in left + other:
        f.write_bytes(b"x")
    ckpt.discard(path)
    assert not any(f.exists() for f in left) and all(f.exists() for f in other)
    ckpt.discard(None)  # no checkpoint asked for: nothing to do


def test_grid_run_resumes_from_its_checkpoint_and_says_so(data_dir, tmp_path, monkeypatch, capsys):
    results = tmp_path / "r"
    args = ["--preset", "smoke", "--methods", "amplify", "--seeds", "0", "--results", str(results),
            "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--epochs", "2", "--quiet",
            "--threads", "1"]  # the same numbers need the same thread count (float sums split differently)
    assert compare.main([*args, "--results", str(tmp_path / "whole")]) == 0  # a child process, as below
    (whole,) = (json.loads(p.read_text()) for p in (tmp_path / "whole").glob("*.json"))
    assert len(whole["epochs"]) == 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # --in-process trains in this process, at its thread count
    try:
        with monkeypatch.context() as m:
            kill_after(m, 1)
            with pytest.raises(Killed):
                compare.main([*args, "--in-process"])
    finally:
        torch.set_num_threads(threads)
    (left,) = results.glob("*.ckpt.pt")
    assert not list(results.glob("*.json")) and ckpt.epochs_done(left) == 1
    capsys.readouterr()
    compare.main([*args, "--dry-run"])
    result_file = left.with_name(left.name.replace(".ckpt.pt", ".json"))
    assert f"{result_file} (resumes after epoch 1)" in capsys.readouterr().out
    assert compare.main(args) == 0  # as a grid runs it: in a child process (as do Slurm's tasks)
    err = capsys.readouterr().err
    assert "(resumes after epoch 1)" in err and "threads" not in err
    (path,) = results.glob("*.json")
    resumed = json.loads(path.read_text())
    assert numbers(resumed) == {**numbers(whole), "grid": resumed["grid"]} and not left.exists()


def test_grid_without_checkpoints_writes_none(data_dir, tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(ckpt, "save", lambda path, **kw: saved.append(path))
    args = ["--preset", "smoke", "--methods", "amplify", "--seeds", "0", "--results", str(tmp_path / "r"),
            "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--epochs", "2", "--quiet",
            "--in-process"]
    assert compare.main([*args, "--no-checkpoints"]) == 0 and saved == []
    assert compare.main([*args, "--results", str(tmp_path / "r2")]) == 0 and len(saved) == 1  # after epoch 1


@pytest.mark.slow
def test_minilm_run_resumes_bit_for_bit(data_dir, minilm_dir, tmp_path, monkeypatch, capsys):
    """The real model (padding-free path, pretrained weights, pooler) on real TREC-fine batches."""
    cfg = TrainConfig(model="minilm-l6", weights=str(minilm_dir), dataset="trec-fine", method="amplify", epochs=2,
                      train_limit=64, eval_limit=64, lr=1e-4, data_dir=str(data_dir),
                      cache_dir=str(tmp_path / "cache"))
    whole = train(cfg, progress=False)
    path = tmp_path / "r.ckpt.pt"
    with monkeypatch.context() as m:
        kill_after(m, 1)
        with pytest.raises(Killed):
            train(cfg, progress=False, checkpoint=path)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        other = train(cfg, progress=False, checkpoint=path, out=tmp_path / "other.json")  # removes the file
    finally:
        torch.set_num_threads(threads)
    assert f"used {threads} threads, this process {threads + 1}" in capsys.readouterr().err
    assert other["train_loss_steps"] == pytest.approx(whole["train_loss_steps"], rel=1e-5)
    with monkeypatch.context() as m:
        kill_after(m, 1)
        with pytest.raises(Killed):
            train(cfg, progress=False, checkpoint=path)
    resumed = train(cfg, progress=False, checkpoint=path)
    assert numbers(resumed) == numbers(whole) and len(whole["train_loss_steps"]) == 4
    assert whole["status"] == "ok" and len(whole["test_predictions"]) == 64
