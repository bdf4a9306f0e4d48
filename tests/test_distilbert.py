"""DistilBERT (paper Table 3) through our BERT modules: parity with transformers' DistilBertModel and
DistilBertForSequenceClassification (small, random, saved to tmp: no network), the full-size checkpoint's
key names, and every method's insertion points on its 6 blocks."""

import json

import numpy as np
import pytest
import torch

from amplify.methods import METHODS, make_method
from model.bert import BertConfig, BertForSequenceClassification, BertModel, tiny_config
from model.loading import load_bert_weights, load_safetensors_into
from model.registry import ModelNotFound, model_dir

SMALL = dict(vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)
# distilbert-base-uncased's config.json on the hub
FULL = {"activation": "gelu", "architectures": ["DistilBertForMaskedLM"], "attention_dropout": 0.1, "dim": 768,
        "dropout": 0.1, "hidden_dim": 3072, "initializer_range": 0.02, "max_position_embeddings": 512,
        "model_type": "distilbert", "n_heads": 12, "n_layers": 6, "pad_token_id": 0, "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True, "vocab_size": 30522}


def padded_batch():
    g = torch.Generator().manual_seed(1)
    lengths = [9, 4, 7]
    T = max(lengths)
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()
    ids = torch.randint(5, SMALL["vocab_size"], (len(lengths), T), generator=g) * mask
    types = (torch.arange(T)[None, :] >= 3).long() * mask  # a "pair": DistilBERT ignores token types
    return ids, mask, types


def saved(hf_model, tmp_path):
    hf_model.save_pretrained(str(tmp_path))  # config.json + model.safetensors
    assert (tmp_path / "model.safetensors").is_file()
    return BertConfig.from_json(tmp_path / "config.json")


def test_parity_with_hf_distilbertmodel(tmp_path):
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    hf = DistilBertModel(DistilBertConfig(**SMALL)).eval()
    cfg = saved(hf, tmp_path)
    assert (cfg.model_type, cfg.type_vocab_size, cfg.hidden_size, cfg.num_hidden_layers) == ("distilbert", 0, 32, 2)
    ours = BertModel(cfg).eval()
    skipped = load_safetensors_into(ours, tmp_path / "model.safetensors")
    assert ours.embeddings.token_type_embeddings is None
    ids, mask, types = padded_batch()
    with torch.no_grad():
        h, _, _ = ours(ids, mask, types)
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    diff = (h - ref).abs()[mask.bool()].max().item()
    print(f"DistilBertModel parity: max |diff| on real tokens {diff:.2e}; skipped {skipped}")
    assert diff <= 1e-5


def test_classifier_parity_with_hf_distilbert(tmp_path):
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(0)
    hf = DistilBertForSequenceClassification(DistilBertConfig(**SMALL, num_labels=3)).eval()
    cfg = saved(hf, tmp_path)
    assert cfg.pooler_act == "relu" and cfg.classifier_dropout == 0.2 and not cfg.attn_output_dropout
    ours = BertForSequenceClassification(cfg, num_labels=3)
    assert ours.dropout.p == 0.2  # seq_classif_dropout, before the classifier
    load_safetensors_into(ours, tmp_path / "model.safetensors")  # pre_classifier -> our pooler
    ours.eval()
    torch.testing.assert_close(ours.bert.pooler.dense.weight, hf.pre_classifier.weight, rtol=0, atol=0)
    with torch.no_grad():
        ours.classifier.weight.copy_(hf.classifier.weight)  # the loader always starts a new head
        ours.classifier.bias.copy_(hf.classifier.bias)
        ids, mask, types = padded_batch()
        logits = ours(ids, mask, types)
        ref = hf(input_ids=ids, attention_mask=mask).logits
    diff = (logits - ref).abs().max().item()
    print(f"DistilBertForSequenceClassification parity: max |logit diff| {diff:.2e}")
    assert diff <= 1e-5


def test_full_size_checkpoint_names_load():
    """distilbert-base-uncased's config and every key of its checkpoint (DistilBertForMaskedLM), synthetic."""
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    cfg = BertConfig.from_dict(FULL)
    shape = (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size)
    assert shape == (768, 6, 12, 3072)
    assert (cfg.hidden_dropout_prob, cfg.attention_probs_dropout_prob, cfg.classifier_dropout) == (0.1, 0.1, 0.2)
    with torch.device("meta"):
        names = DistilBertForMaskedLM(DistilBertConfig(**FULL)).state_dict()
    assert any(k.startswith("distilbert.transformer.layer.5.ffn.lin1") for k in names)
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=g) if v.dim() < 2 or v.shape[0] < 4000 else torch.zeros(v.shape)
             for k, v in names.items()}
    model = BertForSequenceClassification(cfg, num_labels=2)
    pooler_init = model.bert.pooler.dense.weight.clone()
    skipped = load_bert_weights(model, state, source="synthetic distilbert-base-uncased")
    assert sorted({k.split(".")[0] for k in skipped}) == ["vocab_layer_norm", "vocab_projector", "vocab_transform"]
    ours = model.bert.state_dict()
    pairs = {"distilbert.transformer.layer.3.attention.q_lin.weight": "encoder.layer.3.attention.self.query.weight",
             "distilbert.transformer.layer.5.attention.out_lin.bias": "encoder.layer.5.attention.output.dense.bias",
             "distilbert.transformer.layer.0.sa_layer_norm.weight": "encoder.layer.0.attention.output.LayerNorm.weight",
             "distilbert.transformer.layer.2.ffn.lin2.weight": "encoder.layer.2.output.dense.weight",
             "distilbert.transformer.layer.4.output_layer_norm.bias": "encoder.layer.4.output.LayerNorm.bias",
             "distilbert.embeddings.LayerNorm.weight": "embeddings.LayerNorm.weight"}
    for theirs, mine in pairs.items():
        assert torch.equal(ours[mine], state[theirs]), theirs
    assert torch.equal(model.bert.pooler.dense.weight, pooler_init)  # no pre_classifier: kept new


def test_distilbert_offline_message_and_lookup(tmp_path, monkeypatch):
    import urllib.error

    from model import registry

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("AMPLIFY_DISTILBERT_DIR", raising=False)

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(registry.urllib.request, "urlopen", offline)
    with pytest.raises(ModelNotFound) as err:
        model_dir("distilbert-base-uncased")
    msg = str(err.value)
    assert str(tmp_path / "xdg" / "amplify" / "models" / "distilbert-base-uncased") in msg
    assert "AMPLIFY_DISTILBERT_DIR" in msg and "--model minilm-l6" in msg and "model.safetensors" in msg
    snap = tmp_path / "hub" / "models--distilbert--distilbert-base-uncased" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    for f in registry.MODEL_FILES:
        (snap / f).write_text("x")
    assert model_dir("distilbert-base-uncased") == snap
    monkeypatch.setenv("AMPLIFY_DISTILBERT_DIR", str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    for f in registry.MODEL_FILES:
        (tmp_path / "mine" / f).write_text("x")
    assert model_dir("distilbert-base-uncased") == tmp_path / "mine"


def tiny_distilbert(**kw):
    d = {"model_type": "distilbert", "dim": 32, "n_layers": 6, "n_heads": 4, "hidden_dim": 64, "vocab_size": 30522,
         "max_position_embeddings": 512, "dropout": 0.0, "attention_dropout": 0.0, **kw}
    return BertConfig.from_dict(json.loads(json.dumps(d)))


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_mixes_at_its_sites_on_distilbert(name):
    cfg = tiny_distilbert()
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg, num_labels=3).train()
    method = make_method(name, cfg.num_hidden_layers)
    if name == "tmix":
        assert method.layers == [4, 5, 6]  # {7, 9, 12} of 12 scaled to 6 blocks, as for MiniLM
    if name == "amplify":
        assert method.blocks == frozenset(range(1, 7))
    lengths = [8, 5, 3, 8]
    T = max(lengths)
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()
    ids = torch.randint(1000, 2000, (4, T)) * mask
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
             "labels": torch.tensor([0, 1, 2, 1])}
    plan = method.plan(4, np.random.default_rng(0), torch.Generator().manual_seed(0), "cpu")
    if plan.layers:
        plan.lam, plan.lam_value = torch.tensor(0.6), 0.6
    plan.perm = plan.label_perm = torch.tensor([1, 2, 3, 0])
    b = method.prepare(model, batch, plan, lambda: torch.autocast("cpu", enabled=False))
    mixer, visited = method.mixer(plan), []

    def spy(at, layer, h, m):
        h2, m2 = mixer(at, layer, h, m)
        if h2 is not h:
            visited.append((at, layer))
        return h2, m2

    logits = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], mix=mixer.around(spy))
    loss = method.loss(logits, b["labels"], plan)
    loss.backward()
    assert torch.isfinite(loss) and model.bert.encoder.layer[0].attention.self.query.weight.grad is not None
    sites = {at for at, _ in visited}
    assert sites <= set(method.sites) and bool(sites) == (method.sites not in ((), ("tokens",))), (name, visited)
    if name == "ssmix":
        assert not torch.equal(b["input_ids"], ids)  # it mixes token ids before the model
    # every planned layer mixed, and no other (the pooled vector has no layer of its own to check)
    assert {k for at, k in visited if at != "pooled"} == (set() if name in ("sentmix", "ssmix") else set(plan.layers))


def test_tiny_bert_config_unchanged_by_distilbert_fields():
    cfg = tiny_config()
    assert (cfg.model_type, cfg.pooler_act, cfg.attn_output_dropout, cfg.classifier_dropout) == (
        "bert", "tanh", True, None)
