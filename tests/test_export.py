"""--save-model: the fine-tuned classifier in Hugging Face's layout, at its best-dev epoch. Hugging Face's
BertForSequenceClassification reads it and gives our logits; our loader reads it back."""

import json

import numpy as np
import pytest
import torch
import transformers

import run
from amplify.export import load_model, save_model
from amplify.train import TrainConfig, evaluate, prepare_data, train
from data import load_dataset
from model.bert import BertForSequenceClassification, tiny_config

TINY = ["--model", "tiny", "--train-limit", "96", "--eval-limit", "48", "--batch-size", "16", "--max-length", "32",
        "--lr", "1e-3", "--quiet"]


def _batch(tokenizer, texts):
    ids, types = tokenizer.encode_batch(texts)
    T = max(map(len, ids))
    pad = lambda rows: torch.tensor([r + [0] * (T - len(r)) for r in rows])  # noqa: E731
    mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in ids])
    return pad(ids), mask, pad(types)


def test_run_save_model_is_read_by_transformers_with_our_logits(data_dir, tmp_path, capsys):
    d = tmp_path / "model"
    args = [*TINY, "--epochs", "2", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
            "--out", str(tmp_path / "r.json"), "--save-model", str(d)]
    assert run.main(args) == 0
    assert f"saved to {d}" in capsys.readouterr().err
    assert sorted(p.name for p in d.iterdir()) == [".amplify-model", "config.json", "model.safetensors",
                                                  "tokenizer_config.json", "vocab.txt"]
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["architectures"] == ["BertForSequenceClassification"] and cfg["num_labels"] == 6
    assert {v: int(k) for k, v in cfg["id2label"].items()} == cfg["label2id"] and len(cfg["label2id"]) == 6
    assert json.loads((tmp_path / "r.json").read_text())["saved_model"] == str(d)

    ours, tokenizer, labels = load_model(d)
    assert labels == [cfg["id2label"][str(i)] for i in range(6)]
    hf = transformers.BertForSequenceClassification.from_pretrained(d).eval()
    ids, mask, types = _batch(tokenizer, ["How far is it from Denver to Aspen ?", "What is a fear of bees ?",
                                          "Who wrote Hamlet ?"])
    with torch.no_grad():
        a = ours(ids, mask, types)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    assert a.shape == (3, 6)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert hf.config.id2label[0] == labels[0]


@pytest.mark.parametrize("each_epoch", [False, True])
def test_saved_weights_are_the_best_dev_epochs(each_epoch, data_dir, tmp_path):
    """The saved model predicts exactly the test predictions the result reports (those of the best-dev epoch),
    also when --eval-test-each-epoch keeps no copy of the weights for testing."""
    cfg = TrainConfig(method="amplify", dataset="trec-coarse", model="tiny", epochs=3, train_limit=96, eval_limit=48,
                      batch_size=16, max_length=32, lr=3e-3, data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                      eval_test_each_epoch=each_epoch)
    result = train(cfg, progress=False, save_model=tmp_path / "m")
    model, tokenizer, _ = load_model(tmp_path / "m", max_length=cfg.max_length)
    data = prepare_data(cfg, load_dataset(cfg.dataset, data_dir=cfg.data_dir), tokenizer)
    test = evaluate(model, data.test, cfg, torch.device("cpu"), lambda: torch.autocast("cpu", enabled=False))
    assert np.array_equal(test["preds"], result["test_predictions"])
    assert test["acc"] == result["test_acc"]


def test_save_model_replaces_only_a_model_directory(tmp_path, minilm_dir):
    model = BertForSequenceClassification(tiny_config(), 2)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a saved model directory"):
        save_model(model, tmp_path / "notes", ["a", "b"], minilm_dir / "vocab.txt")
    save_model(model, tmp_path / "m", ["a", "b"], minilm_dir / "vocab.txt")
    save_model(model, tmp_path / "m", ["x", "y"], minilm_dir / "vocab.txt")  # over a saved model: fine
    assert load_model(tmp_path / "m")[2] == ["x", "y"]
    (tmp_path / "m" / "notes.txt").write_text("mine")  # a user's file in a saved model: kept, and so refused
    with pytest.raises(FileExistsError, match="notes.txt"):
        save_model(model, tmp_path / "m", ["a", "b"], minilm_dir / "vocab.txt")
    assert (tmp_path / "m" / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind


def test_grid_save_models_and_logs_per_run(data_dir, tmp_path):
    from bench import compare
    from bench.grid.runner import model_dir

    results = tmp_path / "r"
    args = ["--preset", "smoke", "--methods", "none", "--seeds", "0", "--results", str(results), "--data-dir",
            str(data_dir), "--cache-dir", str(tmp_path / "c"), "--quiet", "--save-models",
            "--tensorboard", str(tmp_path / "tb")]
    assert compare.main(args) == 0
    (result_file,) = results.glob("*.json")
    saved = results / "models" / result_file.stem
    assert json.loads(result_file.read_text())["saved_model"] == str(saved)
    assert model_dir(compare.make_plan(compare.parse(args)[1])[2][0]) == saved
    assert load_model(saved)[0].num_labels == 6
    # the grid's other per-run outputs: the steps CSV beside the result, a TensorBoard directory per run
    assert (results / f"{result_file.stem}.steps.csv").is_file()
    assert any((tmp_path / "tb" / result_file.stem).glob("events.out.tfevents.*"))


def test_a_model_without_hugging_faces_bert_layout_is_refused(tmp_path, minilm_dir):
    model = BertForSequenceClassification(tiny_config(model_type="distilbert"), 2)
    with pytest.raises(ValueError, match="distilbert model has other parameter names"):
        save_model(model, tmp_path / "m", ["a", "b"], minilm_dir / "vocab.txt")
    assert not (tmp_path / "m").exists()
