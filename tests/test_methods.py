"""Each mixup method against a forward pass computed by hand, on a tiny model with fixed λ and perm."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amplify.methods import METHODS, Plan, make_method, scale_layer, seeded_generators
from model.bert import BertForSequenceClassification, no_mix, tiny_config

L = 3


@pytest.fixture
def setup():
    torch.manual_seed(0)
    cfg = tiny_config(num_hidden_layers=L, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(cfg, num_labels=3).train()  # train mode (mixing on), no dropout
    ids = torch.randint(5, 200, (4, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 3 + [0] * 3, [1] * 5 + [0]])
    types = torch.zeros_like(ids)
    labels = torch.tensor([0, 1, 2, 1])
    return model, ids, mask, types, labels


def fixed_plan(lam, layers, perm=(2, 0, 3, 1)):
    perm = torch.tensor(perm)
    return Plan(lam=torch.tensor(lam), perm=perm, label_perm=perm, layers=frozenset(layers), lam_value=lam)


def hand_forward(model, ids, mask, types, plan, site, union):
    """The network written out layer by layer, mixing where `site` says; returns logits."""
    lam, perm = plan.lam, plan.perm
    mix = lambda h: lam * h + (1 - lam) * h[perm]
    bert = model.bert
    h = bert.embeddings(ids, types)
    if site == "embeddings" or (site == "block" and 0 in plan.layers):
        h = mix(h)
        mask = torch.maximum(mask, mask[perm]) if union else mask
    for layer in bert.encoder.layer:
        a = layer.attention(h, mask)
        if site == "attention" and layer.index in plan.layers:
            a = mix(a)
        h = layer.output(layer.intermediate(a), a)
        if site == "block" and layer.index in plan.layers:
            h = mix(h)
            mask = torch.maximum(mask, mask[perm]) if union else mask
    x = bert.pooler(h)
    if site == "pooled":
        x = mix(x)
    return model.classifier(x)


CASES = [  # method, plan layers, site in the hand computation, union mask
    ("embedmix", {0}, "embeddings", True),
    ("sentmix", {0}, "pooled", False),
    ("tmix", {2}, "block", False),
    ("manifold", {0}, "block", True),
    ("manifold", {2}, "block", True),
    ("amplify", {1, 2, 3}, "attention", False),
    ("amplify", {2}, "attention", False),
]


@pytest.mark.parametrize("name,layers,site,union", CASES)
def test_mixed_forward_equals_hand_computation(setup, name, layers, site, union):
    model, ids, mask, types, _ = setup
    method = make_method(name, L)
    plan = fixed_plan(0.7, layers)
    ours = model(ids, mask, types, mix=method.mixer(plan))
    ref = hand_forward(model, ids, mask, types, plan, site, union)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
    assert not torch.allclose(ours, model(ids, mask, types), atol=1e-4)  # it really mixed


@pytest.mark.parametrize("name", list(METHODS))
def test_lambda_one_is_the_unmixed_forward(setup, name):
    model, ids, mask, types, _ = setup
    method = make_method(name, L)
    plan = fixed_plan(1.0, {0} if name in ("embedmix", "sentmix") else {1, 2, 3})
    plain = model(ids, mask, types)
    mixed = model(ids, mask, types, mix=method.mixer(plan))
    if method.union:  # λ=1 keeps the features, but the union mask lets padding be attended to
        plan = fixed_plan(1.0, plan.layers, perm=(0, 1, 2, 3))
        mixed = model(ids, mask, types, mix=method.mixer(plan))
    assert torch.equal(plain, mixed)


@pytest.mark.parametrize("name", list(METHODS))
def test_eval_never_mixes(setup, name):
    model, ids, mask, types, _ = setup
    method = make_method(name, L)
    plan = fixed_plan(0.5, {0, 1, 2, 3})
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(ids, mask, types, mix=method.mixer(plan)), model(ids, mask, types, mix=no_mix))


@pytest.mark.parametrize("name", list(METHODS))
def test_loss_formula_and_gradients_flow(setup, name):
    model, ids, mask, types, labels = setup
    method = make_method(name, L)
    rng, gen = seeded_generators(0)
    plan = method.plan(4, rng, gen, torch.device("cpu"))
    logits = model(ids, mask, types, mix=method.mixer(plan))
    loss = method.loss(logits, labels, plan)
    lam = plan.lam_value
    expected = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(logits, labels[plan.perm])
    torch.testing.assert_close(loss, expected)
    loss.backward()
    for pname, p in model.named_parameters():
        if "token_type_embeddings" in pname:
            continue  # only type 0 is used here; its row does get a gradient
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    assert model.classifier.weight.grad.abs().sum() > 0


def test_lambda_draws_follow_the_paper():
    rng = np.random.default_rng(0)
    base = make_method("tmix", 12)
    lams = np.array([base.draw_lam(rng) for _ in range(4000)])
    assert lams.min() >= 0.5 and lams.max() <= 1.0
    amp = make_method("amplify", 12)
    assert amp.alpha == 0.1 and amp.n_draws == 5
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    for _ in range(50):  # λ = max of 5 Beta(0.1, 0.1) draws, the same stream
        assert amp.draw_lam(rng1) == rng2.beta(0.1, 0.1, size=5).max()
    one = make_method("amplify", 12, n_draws=1)
    assert np.mean([one.draw_lam(rng) for _ in range(4000)]) < np.mean([amp.draw_lam(rng) for _ in range(4000)])


def test_layer_choices():
    assert make_method("tmix", 12).layers == [7, 9, 12]
    assert make_method("tmix", 6).layers == [4, 5, 6]
    assert [scale_layer(k, 6) for k in (4, 8, 12)] == [2, 4, 6]
    rng = np.random.default_rng(0)
    seen = {next(iter(make_method("manifold", 6).draw_layers(rng))) for _ in range(500)}
    assert seen == set(range(7))
    assert make_method("amplify", 6, amplify_layers=[4]).draw_layers(rng) == {4}
    with pytest.raises(ValueError, match="outside 1..6"):
        make_method("amplify", 6, amplify_layers=[7])
    with pytest.raises(ValueError, match="unknown method"):
        make_method("cutmix", 6)


def test_label_perm_independent_is_a_fresh_permutation():
    m = make_method("embedmix", 6, label_perm="independent")
    rng, gen = seeded_generators(0)
    plans = [m.plan(16, rng, gen, torch.device("cpu")) for _ in range(5)]
    assert any(not torch.equal(p.perm, p.label_perm) for p in plans)
    same = make_method("embedmix", 6).plan(16, rng, gen, torch.device("cpu"))
    assert same.perm is same.label_perm or torch.equal(same.perm, same.label_perm)
