"""Per-step logs: the CSV beside every result JSON, and --tensorboard's event file read back."""

import csv
import json
import sys

import pytest

import run
from amplify.logs import TENSORBOARD_MISSING

TINY = ["--model", "tiny", "--epochs", "2", "--train-limit", "64", "--eval-limit", "32", "--batch-size", "16",
        "--max-length", "32", "--lr", "1e-3", "--quiet"]


def _run(data_dir, tmp_path, *extra):
    out = tmp_path / "r.json"
    assert run.main([*TINY, "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out),
                     *extra]) == 0
    return json.loads(out.read_text())


def test_steps_csv_beside_the_result(data_dir, tmp_path):
    result = _run(data_dir, tmp_path, "--method", "amplify")
    with open(tmp_path / "r.steps.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "epoch", "loss", "lr", "lam"]
    assert [int(r["step"]) for r in rows] == list(range(1, result["steps"] + 1)) and result["steps"] == 8
    assert [int(r["epoch"]) for r in rows] == [1] * 4 + [2] * 4
    assert [float(r["loss"]) for r in rows] == pytest.approx(result["train_loss_steps"], rel=1e-6)
    assert float(rows[-1]["lr"]) == pytest.approx(result["epochs"][-1]["lr"])
    lams = [float(r["lam"]) for r in rows]
    assert all(0.5 <= lam <= 1 for lam in lams) and len(set(lams)) > 1  # AMPLIFY: max of 5 draws, varies


def test_tensorboard_event_file_reads_back(data_dir, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = tmp_path / "tb"
    result = _run(data_dir, tmp_path, "--method", "amplify", "--tensorboard", str(tb), "--eval-test-each-epoch")
    acc = EventAccumulator(str(tb))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/lambda", "dev/acc", "test/acc", "best/test_acc"} <= tags
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(1, 9))
    assert [e.value for e in loss] == pytest.approx(result["train_loss_steps"], rel=1e-6)
    assert [e.value for e in acc.Scalars("dev/acc")] == pytest.approx([r["dev_acc"] for r in result["epochs"]])
    assert [e.step for e in acc.Scalars("dev/acc")] == [4, 8]
    assert acc.Scalars("best/test_acc")[0].value == pytest.approx(result["test_acc"])


def test_tensorboard_missing_says_how_to_install(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    with pytest.raises(SystemExit) as e:
        run.main([*TINY, "--data-dir", str(data_dir), "--out", str(tmp_path / "r.json"), "--tensorboard",
                  str(tmp_path / "tb")])
    assert e.value.code == 2
    assert TENSORBOARD_MISSING in capsys.readouterr().err and not (tmp_path / "r.json").exists()
