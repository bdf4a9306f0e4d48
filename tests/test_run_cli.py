"""run.py's promises about its output: an unwritable --out fails before training, a failed final write
never loses the finished run, and stdout holds only the result line."""

import json

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
    assert f"cannot write the result to {out}" in err and "choose another --out" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_failed_final_write_saves_the_result_elsewhere(data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.json"
    real_write = results.write_json_atomic

    def disk_full_at_out(path, obj):
        if str(path) == str(out):
            raise OSError(28, "No space left on device")
        real_write(path, obj)

    monkeypatch.setattr(results, "write_json_atomic", disk_full_at_out)
    code = run.main(tiny_args(data_dir, tmp_path, out) + ["--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and not out.exists()
    line = next(x for x in captured.err.splitlines() if "could not write" in x)
    saved = line.rsplit("the result is saved in ", 1)[1].strip()
    try:
        assert json.loads(open(saved).read())["status"] == "ok" and saved in captured.out
    finally:
        import os

        os.unlink(saved)


def test_stdout_holds_only_the_result_line(data_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run.main(tiny_args(data_dir, tmp_path, out)) == 0  # progress on: epoch lines must go to stderr
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "test accuracy" in captured.out
    assert "epoch  1 |" in captured.err
