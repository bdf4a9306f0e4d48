"""Each mixup method against a forward pass computed by hand, on a tiny model with fixed λ and perm."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amplify.methods import METHODS, Plan, amplify_mean_one_minus_lam, make_method, scale_layer, seeded_generators
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
        if site == "cls" and layer.index == L:  # Mixup-Transformer: the last block's [CLS] row only
            h = h.clone()
            h[:, 0] = lam * h[:, 0] + (1 - lam) * h[perm, 0]
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
    ("mixup-transformer", {L}, "cls", False),
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


def test_mixup_transformer_mixes_before_the_pooler_unlike_sentmix(setup):
    model, ids, mask, types, _ = setup
    seen = {}

    def recording(mixer, name):  # keeps the vector the classifier receives
        def mix(at, layer, h, m):
            h, m = mixer(at, layer, h, m)
            if at == "pooled":
                seen[name] = h
            return h, m
        return mix

    model(ids, mask, types, mix=recording(make_method("mixup-transformer", L).mixer(fixed_plan(0.7, {L})), "mt"))
    model(ids, mask, types, mix=recording(make_method("sentmix", L).mixer(fixed_plan(0.7, {0})), "sm"))
    pooler = model.bert.pooler
    with torch.no_grad():
        h = model.bert(ids, mask, types, pool=False)[0]  # (B, T, d) unmixed last block
        torch.testing.assert_close(seen["mt"], pooler(0.7 * h + 0.3 * h[[2, 0, 3, 1]]), atol=1e-6, rtol=0)
        torch.testing.assert_close(seen["sm"], 0.7 * pooler(h) + 0.3 * pooler(h)[[2, 0, 3, 1]], atol=1e-6, rtol=0)
    assert (seen["mt"] - seen["sm"]).abs().max() > 1e-3


NO_CPU = lambda: torch.autocast("cpu", enabled=False)


@pytest.mark.parametrize("name", list(METHODS))
def test_lambda_one_is_the_unmixed_forward(setup, name):
    model, ids, mask, types, labels = setup
    method = make_method(name, L)
    layers = {0} if name in ("embedmix", "sentmix", "ssmix") else {2} if name == "manifold" else {1, 2, 3}
    plan = fixed_plan(1.0, layers)  # Manifold mixes at one drawn layer
    plain = model(ids, mask, types)
    batch = method.prepare(model, dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels),
                           plan, NO_CPU)
    assert torch.equal(batch["input_ids"], ids)  # SSMix at λ = 1 replaces no token
    mixed = model(ids, mask, types, mix=method.mixer(plan))
    if method.union:  # λ=1 keeps the features, but the union mask lets each example attend to more positions
        ref = hand_forward(model, ids, mask, types, plan, "embeddings" if name == "embedmix" else "block", True)
        torch.testing.assert_close(mixed, ref, rtol=0, atol=1e-6)
        assert not torch.equal(mixed, plain)  # the wider mask is all that changed it
        return
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
    if name == "ssmix":
        plan.lam_value = 0.6  # a λ that replaces tokens in these short rows
    batch = method.prepare(model, dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels),
                           plan, NO_CPU)
    logits = model(batch["input_ids"], mask, types, mix=method.mixer(plan))
    loss = method.loss(logits, labels, plan)
    lam = plan.lam_value
    ce = lambda y: F.cross_entropy(logits, y, reduction="none")
    if name == "labelsmooth":
        expected = F.cross_entropy(logits, labels, label_smoothing=method.label_smoothing)
    elif name == "ssmix":  # per-example label weights: the share of tokens kept
        assert plan.ratio.shape == (4,) and (plan.ratio < 1).any()
        expected = (plan.ratio * ce(labels) + (1 - plan.ratio) * ce(labels[plan.perm])).mean()
    else:
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


def test_label_smoothing_default_is_amplifys_mean_one_minus_lambda():
    eps = amplify_mean_one_minus_lam()
    assert eps == pytest.approx(0.0384249, abs=1e-7)  # ∫0^1 F(x)^5 dx, F the Beta(0.1, 0.1) CDF
    lam = np.random.default_rng(0).beta(0.1, 0.1, size=(400_000, 5)).max(1)  # Monte Carlo cross-check
    se = (1 - lam).std() / np.sqrt(len(lam))
    assert abs((1 - lam).mean() - eps) < 4 * se
    assert make_method("labelsmooth", L).label_smoothing == eps
    assert make_method("labelsmooth", L, label_smoothing=0.1).describe()["label_smoothing"] == 0.1
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        make_method("labelsmooth", L, label_smoothing=1.0)


@pytest.mark.parametrize("eps", [0.0, 0.0384, 0.2])
def test_label_smoothing_loss_is_torchs_and_the_hand_formula(eps):
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    labels = torch.tensor([0, 3, 1, 1, 2, 0])
    method = make_method("labelsmooth", L, label_smoothing=eps)
    plan = method.plan(6, *seeded_generators(0), torch.device("cpu"))
    assert not plan.layers and plan.lam_value == 1.0  # it mixes nothing
    loss = method.loss(logits, labels, plan)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels, label_smoothing=eps))
    logp = logits.log_softmax(-1)  # target (1-ε)·onehot + ε/C
    hand = -((1 - eps) * logp[torch.arange(6), labels] + eps * logp.mean(-1)).mean()
    torch.testing.assert_close(loss, hand)


def test_mix_epochs_switch_mixing_on_and_off():
    m = make_method("mixup-transformer", L, mix_epochs=[2])
    rng, gen = seeded_generators(0)
    m.start_epoch(1)
    off = m.plan(4, rng, gen, torch.device("cpu"))
    assert off.lam_value == 1.0 and not off.layers
    h = torch.randn(4, 5, 8)
    assert m.mixer(off)("block", L, h, None)[0] is h
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    torch.testing.assert_close(m.loss(logits, labels, off), F.cross_entropy(logits, labels))
    m.start_epoch(2)
    on = m.plan(4, rng, gen, torch.device("cpu"))
    assert on.layers == {L} and on.lam_value < 1.0
    assert m.describe()["mix_epochs"] == [2] and "mix_epochs" not in make_method("tmix", L).describe()
    with pytest.raises(ValueError, match="mixing methods only"):
        make_method("labelsmooth", L, mix_epochs=[1])


ONE_IN_FLOAT32 = 1.0 - 2.0**-30  # λ < 1 as drawn (float64), exactly 1 in float32
BELOW_ONE_IN_FLOAT32 = float(np.nextafter(np.float32(1.0), np.float32(0.0)))  # 1 - 2^-24: still mixes


def step_with_dropout(model, method, batch, plan):
    """Logits, loss and gradients of one training step with dropout on, from a fixed random state."""
    torch.manual_seed(7)
    b = method.prepare(model, batch, plan, NO_CPU)
    logits = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], mix=method.mixer(plan))
    loss = method.loss(logits, b["labels"], plan)
    model.zero_grad(set_to_none=True)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), loss.detach(), grads


@pytest.mark.parametrize("name", [n for n in METHODS if n not in ("none", "labelsmooth")])
def test_a_step_whose_lambda_is_one_in_float32_is_skipped_exactly_where_it_mixes_nothing(setup, name):
    """λ = 1 in float32 makes λ·h + (1-λ)·h[perm] = h and the loss CE(y): such a step mixes nowhere (its
    plan has no layers, the model skips the partners' padding rows) and its numbers, dropout on, equal
    those of the mixed computation it replaces. Not for union-mask methods (λ = 1 still widens the mask)
    nor SSMix (its own rule); and λ one float32 step below 1 still mixes."""
    _, ids, mask, types, labels = setup
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_config(num_hidden_layers=L), num_labels=3).train()  # dropout 0.1
    model.bert.padding_free = False  # the same positions, so the same dropout masks, either way
    batch = dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
    method = make_method(name, L)
    layers = method.draw_layers(np.random.default_rng(0))
    plans = {}
    for lam, skipped in ((ONE_IN_FLOAT32, method.identity_at_one), (BELOW_ONE_IN_FLOAT32, False)):
        method.draw_lam = lambda rng, lam=lam: lam
        plans[lam] = plan = method.plan(4, *seeded_generators(0), torch.device("cpu"))
        assert plan.lam_value == lam and (plan.layers == frozenset() if skipped else plan.layers == layers)
    assert method.identity_at_one == (name not in ("embedmix", "manifold", "ssmix"))
    if name == "ssmix":
        return
    plan = plans[ONE_IN_FLOAT32]
    skip = Plan(lam=plan.lam, perm=plan.perm, label_perm=plan.label_perm, layers=frozenset(), lam_value=plan.lam_value)
    layers = {0} if name == "manifold" else layers  # at the embeddings: every block then sees the wider mask
    forced = Plan(lam=plan.lam, perm=plan.perm, label_perm=plan.label_perm, layers=layers, lam_value=plan.lam_value)
    assert plan.lam.item() == 1.0 and not method.mixer(skip).mixes
    a, b = step_with_dropout(model, method, batch, skip), step_with_dropout(model, method, batch, forced)
    if not method.identity_at_one:  # the union mask lets each example attend to its padding: not the same
        assert not torch.equal(a[0], b[0])
        return
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[2].keys() == b[2].keys() and all(torch.equal(a[2][n], b[2][n]) for n in a[2])


def test_amplifys_lambda_is_one_in_float32_on_about_37_percent_of_steps():
    """The share the methods docstring quotes: AMPLIFY's max of 5 Beta(0.1, 0.1) draws against the
    baselines' max(l, 1-l) of one Beta(0.2, 0.2) draw."""
    from scipy import stats as sps

    rng, n = np.random.default_rng(0), 20_000
    share = lambda m: np.mean([np.float32(m.draw_lam(rng)) == 1.0 for _ in range(n)])
    c = 1 - 2**-25  # float32 rounds [c, 1] to 1 (c itself, a tie, to the even 1.0)
    for name, p in (("amplify", 1 - sps.beta.cdf(c, 0.1, 0.1) ** 5),  # max of 5 draws >= c: 0.3748
                    ("tmix", 2 * sps.beta.sf(c, 0.2, 0.2))):  # max(l, 1 - l) >= c, l symmetric: 0.0329
        assert abs(share(make_method(name, L)) - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert 0.37 < 1 - sps.beta.cdf(c, 0.1, 0.1) ** 5 < 0.38 and 0.03 < 2 * sps.beta.sf(c, 0.2, 0.2) < 0.04  # ~37%, ~3%
