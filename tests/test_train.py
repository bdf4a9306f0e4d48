"""The training loop end to end on a tiny model and a small real subset, and its contracts."""

import json

import numpy as np
import pytest
import torch

import amplify.train as T
import run
from amplify.methods import METHODS
from amplify.results import pack_log_probs, read_probs
from amplify.train import TrainConfig, train


def tiny_cfg(data_dir, tmp_path, **kw):
    base = dict(model="tiny", dataset="trec-coarse", epochs=2, train_limit=96, eval_limit=64, batch_size=16,
                max_length=32, lr=1e-3, data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"))
    base.update(kw)
    return TrainConfig(**base)


def test_run_py_end_to_end_writes_a_valid_result(data_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = run.main(["--method", "amplify", "--model", "tiny", "--epochs", "2", "--train-limit", "96",
                     "--eval-limit", "64", "--batch-size", "16", "--max-length", "32", "--lr", "1e-3",
                     "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out), "--quiet"])
    assert code == 0
    r = json.loads(out.read_text())
    assert r["status"] == "ok" and r["config"]["method"] == "amplify" and r["method"]["n_draws"] == 5
    assert len(r["epochs"]) == 2 and r["steps"] == 2 * 6 and len(r["train_loss_steps"]) == 12
    assert r["best_epoch"] in (1, 2) and r["data"]["sizes"] == {"train": 96, "dev": 64, "test": 64}
    preds, labels = np.array(r["test_predictions"]), np.array(r["test_labels"])
    assert len(preds) == 64 and r["test_acc"] == pytest.approx(np.mean(preds == labels))
    best = r["epochs"][r["best_epoch"] - 1]
    assert r["test_acc"] == best["test_acc"] and r["best_dev_acc"] == max(e["dev_acc"] for e in r["epochs"])
    for key in ("wall_time_s", "mean_step_s", "peak_memory_mb", "samples_per_s"):
        assert r[key] > 0
    assert r["env"]["torch"] == torch.__version__ and "test accuracy" in capsys.readouterr().out
    probs = read_probs(r)  # the best-dev epoch's test probabilities, stored as float16 log-softmax
    assert probs.shape == (64, 6) and np.allclose(probs.sum(1), 1.0)
    assert (probs[np.arange(64), preds] >= probs.max(1) - 1e-3).all()  # the predicted class is the top one


def test_stored_probabilities_round_trip_within_float16():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (50, 7)).astype(np.float32)
    logits[:5, 0] += 40  # confident rows: p(other classes) ~ 1e-18, far below float16's range as p
    log_probs = torch.tensor(logits).log_softmax(-1).numpy()
    packed = json.loads(json.dumps(pack_log_probs(log_probs)))  # survives JSON
    assert packed["shape"] == [50, 7] and len(packed["data"]) == 4 * -(-50 * 7 * 2 // 3)  # base64 of 2 B each
    back = read_probs({"test_probs": packed}, log=True)
    np.testing.assert_allclose(back, log_probs, rtol=2e-3, atol=2e-3)
    assert np.isfinite(back).all() and back[:5, 1:].max() < -30  # tiny probabilities keep their log
    np.testing.assert_allclose(read_probs({"test_probs": packed}), np.exp(log_probs), rtol=2e-3, atol=1e-6)
    assert read_probs({"test_acc": 0.5}) is None  # results written before probabilities were stored


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_numbers_on_cpu(data_dir, tmp_path, method):
    a = train(tiny_cfg(data_dir, tmp_path, method=method, epochs=1, max_steps=4), progress=False)
    b = train(tiny_cfg(data_dir, tmp_path, method=method, epochs=1, max_steps=4), progress=False)
    assert a["train_loss_steps"] == b["train_loss_steps"] and a["test_predictions"] == b["test_predictions"]
    c = train(tiny_cfg(data_dir, tmp_path, method=method, epochs=1, max_steps=4, seed=1), progress=False)
    assert c["train_loss_steps"] != a["train_loss_steps"]


@pytest.mark.parametrize("each_epoch", [False, True])
def test_early_stopping_selects_by_dev_only(data_dir, tmp_path, monkeypatch, each_epoch):
    dev = iter([0.5, 0.7, 0.6, 0.65, 0.9])
    test = iter([0.9, 0.1, 0.95, 0.99, 0.0])
    weights = {"dev": [], "test": []}  # a fingerprint of the weights each split was evaluated on

    def fake_evaluate(model, encoded, cfg, device, amp):
        split = encoded.name.rsplit("/", 1)[-1]
        weights[split].append(sum(p.double().sum().item() for p in model.parameters()))
        return {"acc": next(dev if split == "dev" else test), "f1": 0.0, "preds": np.zeros(1, int),
                "labels": np.zeros(1, int), "log_probs": np.zeros((1, 6), np.float32)}

    monkeypatch.setattr(T, "evaluate", fake_evaluate)
    r = train(tiny_cfg(data_dir, tmp_path, epochs=5, patience=2, eval_test_each_epoch=each_epoch), progress=False)
    assert [e["dev_acc"] for e in r["epochs"]] == [0.5, 0.7, 0.6, 0.65]  # stopped: 2 epochs without a better dev
    assert r["best_epoch"] == 2
    if each_epoch:  # test every epoch; the best epoch's is reported
        assert [e["test_acc"] for e in r["epochs"]] == [0.9, 0.1, 0.95, 0.99] and r["test_acc"] == 0.1
        assert weights["test"] == weights["dev"]
    else:  # test once, at the end, on the best epoch's weights (restored): only that epoch's row has it
        assert [e["test_acc"] for e in r["epochs"]] == [None, 0.9, None, None] and r["test_acc"] == 0.9
        assert weights["test"] == [weights["dev"][1]] and weights["dev"][1] != weights["dev"][-1]


def test_nan_loss_fails_the_run_clearly(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "train_step", lambda *a, **k: torch.tensor(float("nan")))
    out = tmp_path / "r.json"
    r = train(tiny_cfg(data_dir, tmp_path), out=out, progress=False)
    assert r["status"] == "failed" and "lower --lr" in r["error"]
    assert json.loads(out.read_text())["status"] == "failed"


@pytest.mark.parametrize("argv,message", [
    (["--lr", "-1"], "--lr must be > 0"),
    (["--max-steps", "0"], "--max-steps must be >= 1"),
    (["--method", "cutmix"], "invalid choice: 'cutmix'"),
    (["--dataset", "cola"], "invalid choice: 'cola'"),
    (["--model", "gpt2"], "invalid choice: 'gpt2'"),
    (["--noise", "swap", "--noise-p", "1.5"], "--noise must be"),
    (["--method", "amplify", "--label-smoothing", "0.1"], "--label-smoothing is labelsmooth's"),
    (["--method", "labelsmooth", "--label-smoothing", "1"], "in [0, 1)"),
    (["--method", "tmix", "--ssmix-clean-loss"], "--ssmix-clean-loss applies to --method ssmix only"),
    (["--method", "none", "--mix-epochs", "1"], "--mix-epochs takes 1-based epochs of a mixing method"),
    (["--method", "tmix", "--mix-epochs", "0,1"], "--mix-epochs takes 1-based epochs"),
    (["--method", "mixup-transformer", "--pooling", "mean"], "use --pooling pooler"),
])
def test_bad_arguments_fail_in_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is relative: nothing may land in the checkout
    with pytest.raises(SystemExit) as e:
        run.main(argv + ["--quiet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_data_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        run.main(["--model", "tiny", "--data-dir", str(tmp_path / "nowhere"), "--quiet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "trec" in err.lower() and "data.download" in err and "Traceback" not in err


def test_help_lists_methods_and_datasets(capsys):
    with pytest.raises(SystemExit):
        run.main(["--help"])
    out = capsys.readouterr().out
    for name in ("amplify", "tmix", "manifold", "mixup-transformer", "ssmix", "labelsmooth", "trec-fine", "yelp-5",
                 "--noise", "--amplify-layers", "--mix-epochs", "--ssmix-clean-loss", "--label-smoothing"):
        assert name in out


def test_mix_epochs_and_options_reach_the_run(data_dir, tmp_path):
    r = train(tiny_cfg(data_dir, tmp_path, method="mixup-transformer", mix_epochs=[2]), progress=False)
    assert r["status"] == "ok" and r["method"]["mix_epochs"] == [2] and r["config"]["mix_epochs"] == [2]
    r = train(tiny_cfg(data_dir, tmp_path, method="ssmix", ssmix_clean_loss=True, epochs=1, max_steps=3),
              progress=False)
    assert r["status"] == "ok" and r["method"]["clean_loss"] is True
    r = train(tiny_cfg(data_dir, tmp_path, method="labelsmooth", epochs=1, max_steps=2), progress=False)
    assert r["method"]["label_smoothing"] == pytest.approx(0.0384249, abs=1e-7)
