"""The CPU fast paths of model/bert.py against the plain padded computation: padding-free layers for
every method (logits, loss and gradients, λ < 1, partners shorter and longer), the last block at [CLS]
only (with padding and without), and the cheaper dropout masks."""

import numpy as np
import pytest
import torch

from amplify.methods import METHODS, Plan, make_method
from model.bert import BertForSequenceClassification, Dropout, tiny_config
from model.packing import Rows, positions_needed

L = 3
LENGTHS = [9, 3, 6, 2, 9, 5]  # mixed, two of them the longest


def make_batch(lengths):
    B, T = len(lengths), max(lengths)
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()
    ids = torch.randint(5, 200, (B, T)) * mask
    ids[:, 0] = 101
    types = torch.zeros_like(ids)
    labels = torch.tensor([0, 1, 2, 1, 0, 2])
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    cfg = tiny_config(num_hidden_layers=L, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(cfg, num_labels=3).train()  # mixing on, dropout off
    return model, make_batch(LENGTHS)


# partners: a cycle through every example (AMPLIFY's needed rows grow along it), and pairs swapping a
# long and a short example, so every example has partners shorter and longer than itself somewhere
PERMS = [(1, 2, 3, 4, 5, 0), (3, 4, 5, 0, 1, 2), (5, 0, 1, 2, 3, 4)]
LAYERS = {"embedmix": [{0}], "sentmix": [{0}], "tmix": [{1}, {2}, {3}], "manifold": [{0}, {1}, {3}],
          "amplify": [{1, 2, 3}, {2}], "mixup-transformer": [{L}], "ssmix": [{0}], "none": [set()],
          "labelsmooth": [set()]}


def loss_and_logits(model, method, batch, plan, padding_free):
    model.bert.padding_free = padding_free
    b = method.prepare(model, batch, plan, _no_amp)
    logits = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], mix=method.mixer(plan))
    return logits, method.loss(logits, b["labels"], plan)


def grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _no_amp():
    return torch.autocast("cpu", enabled=False)


@pytest.mark.parametrize("lengths", [LENGTHS, [9] * 6], ids=["mixed-lengths", "no-padding"])
@pytest.mark.parametrize("name", list(METHODS))
def test_padding_free_equals_padded_for_every_method(setup, name, lengths):
    """Without padding the packed path still runs (the last block at [CLS] only), so it is checked too."""
    model, _ = setup
    torch.manual_seed(1)
    batch = make_batch(lengths)
    method = make_method(name, L)
    n_checked = 0
    for perm in PERMS:
        for layers in LAYERS[name]:
            p = torch.tensor(perm)
            lam = 0.6 if layers else 1.0
            plan = Plan(lam=torch.tensor(lam), perm=p, label_perm=p, layers=frozenset(layers), lam_value=lam)
            packed, loss_packed = loss_and_logits(model, method, batch, plan, True)
            padded, loss_padded = loss_and_logits(model, method, batch, plan, False)
            assert (packed - padded).abs().max().item() <= 1e-5, (name, perm, layers)
            assert abs(loss_packed.item() - loss_padded.item()) <= 1e-5
            if n_checked == 0:  # the gradients too, for the first draw
                g_packed, g_padded = grads(model, loss_packed), grads(model, loss_padded)
                assert g_packed.keys() == g_padded.keys()
                for n in g_packed:
                    assert torch.allclose(g_packed[n], g_padded[n], rtol=1e-4, atol=1e-6), (name, n)
            n_checked += 1
    model.bert.padding_free = True
    assert n_checked >= 3


def test_padding_free_skips_rows_and_grows_them_exactly_where_needed(setup):
    _, batch = setup
    mask = batch["attention_mask"]
    amp = make_method("amplify", L).mixer(Plan(torch.tensor(0.6), torch.tensor(PERMS[0]), torch.tensor(PERMS[0]),
                                               frozenset({1, 2, 3}), 0.6))
    real = mask.bool()
    rows = positions_needed(mask, amp, L)  # the head reads every real position (mean pooling)
    # the last feed-forward needs only the own mask; each mix before it adds the taker's rows
    assert torch.equal(rows[-1][2], real)
    lengths = [int(rows[-1][1].sum(1)[i]) for i in range(len(LENGTHS))]
    assert lengths == [max(LENGTHS[i], LENGTHS[i - 1]) for i in range(len(LENGTHS))]  # taker of i is i-1
    assert all(torch.equal(qkv, out) for qkv, out, _ in rows)  # q, k, v where the output is computed
    counts = [int(qkv.sum()) for qkv, _, _ in rows]
    assert counts == sorted(counts, reverse=True) and counts[-1] < mask.numel()  # grows backwards, still skips
    none = positions_needed(mask, make_method("none", L).mixer(Plan(torch.tensor(1.0), torch.arange(6),
                                                                   torch.arange(6), frozenset(), 1.0)), L)
    assert all(torch.equal(r, real) for block in none for r in block)
    # The pooler reads [CLS] only: the last block's output and feed-forward rows are the [CLS] rows (every
    # partner's [CLS] is real: AMPLIFY's mix there adds nothing), its q, k, v every real position.
    cls = torch.zeros_like(real)
    cls[:, 0] = True
    top = positions_needed(mask, amp, L, cls_only=True)
    assert torch.equal(top[-1][0], real) and torch.equal(top[-1][1], cls) and torch.equal(top[-1][2], cls)
    assert torch.equal(top[-2][2], real)  # below it, every real position again, and the mixes' rows
    assert [int(q.sum()) for q, _, _ in top[:-1]] == counts[1:]  # AMPLIFY's growth starts one block later


@pytest.mark.parametrize("name", ["none", "amplify", "tmix"])
def test_last_block_queries_only_cls(setup, name):
    """With the pooler, the last block computes its query at [CLS] alone (one row per example; its keys and
    values at every real position, in one GEMM); the blocks below q, k and v in one GEMM, at every real row."""
    model, batch = setup
    method = make_method(name, L)
    p = torch.tensor(PERMS[0])
    layers = frozenset({L}) if name != "none" else frozenset()
    plan = Plan(lam=torch.tensor(0.6), perm=p, label_perm=p, layers=layers, lam_value=0.6)
    rows = {}
    hooks = [getattr(model.bert.encoder.layer[k].attention.self, m).register_forward_hook(
        lambda mod, args, out, key=(k, m): rows.__setitem__(key, args[0].shape[0])) for k in range(L)
        for m in ("query", "key", "value")]
    try:
        model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=method.mixer(plan))
    finally:
        for h in hooks:
            h.remove()
    assert rows == {(L - 1, "query"): len(LENGTHS)}  # the modules are called only there, with B rows


def test_eval_padding_free_equals_padded(setup):
    model, batch = setup
    model.eval()
    with torch.no_grad():
        model.bert.padding_free = True
        a = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        h_a, _, _ = model.bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        model.bert.padding_free = False
        b = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        h_b, _, _ = model.bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    model.bert.padding_free = True
    model.train()
    real = batch["attention_mask"].bool()
    assert (a - b).abs().max().item() <= 1e-5
    assert (h_a - h_b)[real].abs().max().item() <= 1e-5
    assert (h_a[~real] == 0).all()  # rows nobody reads were not computed
    with torch.no_grad():
        h_c, pooled_c, _ = model.eval().bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                                             cls_only=True)
        _, pooled_b, _ = model.bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    model.train()
    assert (h_c[:, 0] - h_b[:, 0]).abs().max().item() <= 1e-5 and (pooled_c - pooled_b).abs().max().item() <= 1e-5
    assert (h_c[:, 1:] == 0).all()  # cls_only: the last block computed [CLS] only


def test_a_watcher_that_reads_every_token_gets_them_computed(setup):
    """The last block at [CLS] only is for the head; a mix callable that reads every token's values (bench's
    attention pictures and Figure 3) says so, and sees what the padded computation gives at every real token."""
    model, batch = setup
    method = make_method("amplify", L)
    p = torch.tensor(PERMS[0])
    plan = Plan(lam=torch.tensor(0.6), perm=p, label_perm=p, layers=frozenset({1, 2, 3}), lam_value=0.6)
    real = batch["attention_mask"].bool()

    def seen(padding_free, reads_every_token):
        model.bert.padding_free = padding_free
        mixer, out = method.mixer(plan), {}

        def spy(at, layer, h, mask):
            h, mask = mixer(at, layer, h, mask)
            out[at, layer] = h.detach()
            return h, mask

        model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
              mix=mixer.around(spy, reads_every_token=reads_every_token))
        model.bert.padding_free = True
        return out

    padded, watched, unsaid = seen(False, True), seen(True, True), seen(True, False)
    for k in padded:
        if k[0] in ("attention", "block"):
            assert (watched[k] - padded[k])[real].abs().max().item() <= 1e-5, k
    assert (unsaid["attention", L][:, 1:] == 0).all()  # without saying so: the last block at [CLS] only


def test_rows_pack_unpack_round_trip():
    keep = torch.tensor([[1, 1, 0], [1, 0, 0]]).bool()
    r = Rows(keep)
    h = torch.arange(18.0).view(2, 3, 3)
    x = r.pack(h)
    assert x.shape == (3, 3) and torch.equal(r.unpack(x)[keep], h[keep]) and (r.unpack(x)[~keep] == 0).all()
    every = Rows(torch.ones(2, 3, dtype=torch.bool))  # every position: reshapes, no copies
    assert every.pack(h).data_ptr() == h.data_ptr() and torch.equal(every.unpack(every.pack(h)), h)


def test_dropout_keeps_the_probability_and_the_expectation():
    torch.manual_seed(0)
    p, n = 0.1, 4_000_000
    drop = Dropout(p).train()
    y = drop(torch.ones(n))
    dropped = (y == 0).double().mean().item()
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)  # 5 sigma
    t = round(p * 2**32)
    assert torch.all((y == 0) | (y == torch.tensor(1.0 / (1.0 - t / 2**32))))  # kept values: one scale
    assert abs(y.double().mean().item() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)  # E[y] = x
    x = torch.randn(7, 5, requires_grad=True)
    out = drop(x)
    out.sum().backward()
    scale = torch.tensor(1.0 / (1.0 - t / 2**32))
    assert torch.equal(x.grad, torch.where(out == 0, 0.0, scale))  # gradient: the same mask and scale
    assert drop.eval()(x) is x and Dropout(0.0).train()(x) is x
    drop.train()
    torch.manual_seed(1)
    first, second = drop(torch.ones(1001)), drop(torch.ones(1001))  # odd: the last 64-bit draw half used
    torch.manual_seed(1)
    assert torch.equal(drop(torch.ones(1001)), first)  # torch's seed fixes the masks (runs, checkpoints)
    assert not torch.equal(first, second)  # and each call draws new ones
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))  # every element dropped, no 1/(1 - 1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Dropout(1.5)
