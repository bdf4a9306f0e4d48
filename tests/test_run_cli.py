"""run.py's promises about its output: an unwritable --out fails before training, a failed final write
never loses the finished run, and stdout holds only the result line."""

import json
import tempfile
from pathlib import Path

import pytest

import amplify.results as results
import run

TINY = ["--model", "tiny", "--epochs", "1", "--train-limit", "48", "--eval-limit", "32", "--batch-size", "16",
        "--max-length", "32", "--lr", "1e-3"]


def tiny_args(data_dir, tmp_path, out):
    return [*TINY, "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out)]


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_unwritable_out_fails_before_training(where, data_dir, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    out = tmp_path if where == "a folder" else tmp_path / "file" / "r.json"
    monkeypatch.setattr("amplify.train.train", lambda *a, **k: pytest.fail("trained although --out is unwritable"))
    with pytest.raises(SystemExit) as e:
        run.main(tiny_args(data_dir, tmp_path, out) + ["--quiet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"--out {out}: cannot write there" in err and "choose another --out" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_failed_final_write_saves_the_result_elsewhere(data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.json"
    real_write = results.write_json_atomic

    def disk_full_at_out(path, obj):
        if str(path) == str(out):
            raise OSError(28, "No space left on device")
        real_write(path, obj)

    monkeypatch.setattr(results, "write_json_atomic", disk_full_at_out)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the fallback lands here, not in /tmp
    (tmp_path / "tmp").mkdir()
    code = run.main(tiny_args(data_dir, tmp_path, out) + ["--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and not out.exists()
    line = next(x for x in captured.err.splitlines() if "could not write" in x)
    saved = line.rsplit("the result is saved in ", 1)[1].strip()
    assert Path(saved).parent == tmp_path / "tmp"
    assert json.loads(open(saved).read())["status"] == "ok" and saved in captured.out


def test_stdout_holds_only_the_result_line(data_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run.main(tiny_args(data_dir, tmp_path, out)) == 0  # progress on: epoch lines must go to stderr
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "test accuracy" in captured.out
    assert "epoch  1 |" in captured.err


def test_thread_count_precedence(monkeypatch):
    from amplify import threads

    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.pick_threads() == 3  # one core busy
    assert threads.pick_threads(jobs=2) == 2 and threads.pick_threads(jobs=8) == 1
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert threads.pick_threads() == 1  # never 0
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.pick_threads() == 2
    assert threads.pick_threads(requested=3) == 3
    with pytest.raises(ValueError, match="--threads must be >= 1"):
        threads.pick_threads(requested=0)


def test_threads_option_sets_torch_threads(data_dir, tmp_path, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        assert run.main(tiny_args(data_dir, tmp_path, tmp_path / "r.json") + ["--quiet", "--threads", "1"]) == 0
        assert json.loads((tmp_path / "r.json").read_text())["env"]["torch_threads"] == 1
    finally:
        torch.set_num_threads(before)
