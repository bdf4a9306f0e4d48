"""Tests for amplify/optim.py: our AdamW against torch.optim.AdamW, the schedule against its closed form
and against Hugging Face's, and the decay/no-decay split."""

import copy
import io
import math

import pytest
import torch
from torch import nn

from amplify.optim import AdamW, compile_available, cosine_with_warmup, param_groups, set_lr, warmup_steps

VOCAB, DIM, CLASSES = 50, 16, 4


class TinyNet(nn.Module):
    """Embedding -> Linear -> LayerNorm -> Linear: every kind of parameter a Transformer has.
    `extra` is used only when asked, to exercise parameters whose grad is None on some steps."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, DIM)
        self.fc = nn.Linear(DIM, 32)
        self.ln = nn.LayerNorm(32)
        self.head = nn.Linear(32, CLASSES)
        self.extra = nn.Linear(32, CLASSES)

    def forward(self, ids, use_extra=False):
        h = self.ln(torch.tanh(self.fc(self.emb(ids).mean(1))))
        out = self.head(h)
        return out + self.extra(h) if use_extra else out


def _batch(gen):
    return torch.randint(0, VOCAB, (8, 5), generator=gen), torch.randint(0, CLASSES, (8,), generator=gen)


def _train_step(model, opt, ids, y, use_extra=False):
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(ids, use_extra), y).backward()
    opt.step()


def _max_diff(a, b):
    return max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters(), strict=True))


def _pair(lr, wd, foreach, compile=False):
    torch.manual_seed(0)
    ours = TinyNet()
    ref = copy.deepcopy(ours)
    return (
        ours,
        AdamW(param_groups(ours, wd), lr=lr, compile=compile),
        ref,
        torch.optim.AdamW(param_groups(ref, wd), lr=lr, foreach=foreach),
    )


# ----------------------------------------------------------------------------------------------------------
# AdamW against torch


@pytest.mark.parametrize("foreach", [False, None, True], ids=["single-tensor", "default", "foreach"])
def test_matches_torch_adamw(foreach):
    # A large lr and wd so that both the Adam step and the decay move the weights a lot in 100 steps.
    ours, opt, ref, ref_opt = _pair(lr=1e-2, wd=0.1, foreach=foreach)
    start = copy.deepcopy(ours)
    gen = torch.Generator().manual_seed(1)
    for _ in range(100):
        ids, y = _batch(gen)
        _train_step(ours, opt, ids, y)
        _train_step(ref, ref_opt, ids, y)
    assert _max_diff(ours, ref) < 1e-6
    assert _max_diff(ours, start) > 0.1  # the test is not vacuous: the weights did move


def test_compiled_update_matches_torch_adamw():
    if not compile_available(torch.device("cpu")):  # fail, not skip: the compiled path is what real runs use
        pytest.fail("torch.compile needs a C++ compiler for the compiled AdamW update: apt-get install g++")
    # The compiled path (what a MiniLM or BERT run uses) against torch, with a changing lr (a new lr or
    # step count must not bake into the compiled code) and params whose grad is None on some steps.
    ours, opt, ref, ref_opt = _pair(lr=1e-2, wd=0.1, foreach=None, compile=True)
    start = copy.deepcopy(ours)
    gen = torch.Generator().manual_seed(7)
    for i in range(100):
        lr = cosine_with_warmup(i, 100, 10, base_lr=1e-2)
        set_lr(opt, lr)
        set_lr(ref_opt, lr)
        ids, y = _batch(gen)
        use_extra = i % 3 == 0
        _train_step(ours, opt, ids, y, use_extra)
        _train_step(ref, ref_opt, ids, y, use_extra)
    assert opt._compiled is not None and opt.compile_failed is None  # it really ran compiled
    assert _max_diff(ours, ref) < 1e-6
    assert _max_diff(ours, start) > 0.1


def test_auto_compiles_only_big_buckets():
    ours, opt, _, _ = _pair(lr=1e-2, wd=0.1, foreach=None, compile=None)  # TinyNet: far below the threshold
    gen = torch.Generator().manual_seed(8)
    _train_step(ours, opt, *_batch(gen))
    assert opt._compiled is None and opt.compile_failed is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_matches_torch_adamw_on_cuda_under_bf16_autocast():
    # Same code on the GPU, against torch's default (foreach) CUDA path. The reference gets a copy of our
    # gradients rather than its own backward pass, so only the optimiser arithmetic is compared.
    ours, _, ref, _ = _pair(lr=1e-2, wd=0.1, foreach=None)
    ours, ref = ours.cuda(), ref.cuda()  # optimisers must be built after the move
    opt = AdamW(param_groups(ours, 0.1), lr=1e-2)
    ref_opt = torch.optim.AdamW(param_groups(ref, 0.1), lr=1e-2)
    gen = torch.Generator().manual_seed(6)
    for _ in range(50):
        ids, y = (t.cuda() for t in _batch(gen))
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(ours(ids), y)
        loss.backward()
        for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
            q.grad = None if p.grad is None else p.grad.clone()
        opt.step()
        ref_opt.step()
    assert all(s["exp_avg"].dtype == torch.float32 for s in opt.state.values())
    assert _max_diff(ours, ref) < 1e-6


def test_matches_torch_adamw_with_schedule():
    ours, opt, ref, ref_opt = _pair(lr=0.0, wd=0.01, foreach=False)
    gen = torch.Generator().manual_seed(2)
    total, warm = 100, warmup_steps(100, 0.1)
    for step in range(total):
        lr = cosine_with_warmup(step, total, warm, base_lr=5e-3)
        set_lr(opt, lr)
        set_lr(ref_opt, lr)
        ids, y = _batch(gen)
        _train_step(ours, opt, ids, y)
        _train_step(ref, ref_opt, ids, y)
    assert all(g["lr"] == cosine_with_warmup(total - 1, total, warm, 5e-3) for g in opt.param_groups)
    assert _max_diff(ours, ref) < 1e-6


def test_params_without_grad_are_skipped():
    # `extra` gets a grad only on every third step, so its step count lags the others: torch counts steps
    # per parameter and so must we.
    ours, opt, ref, ref_opt = _pair(lr=1e-2, wd=0.1, foreach=False)
    extra_before = ours.extra.weight.detach().clone()
    gen = torch.Generator().manual_seed(3)
    for i in range(30):
        ids, y = _batch(gen)
        use_extra = i >= 10 and i % 3 == 0
        _train_step(ours, opt, ids, y, use_extra)
        _train_step(ref, ref_opt, ids, y, use_extra)
        if i == 9:  # never used yet: untouched (no decay either) and no state
            assert torch.equal(ours.extra.weight, extra_before)
            assert ours.extra.weight not in opt.state
    assert opt.state[ours.extra.weight]["step"] == 6  # i = 12, 15, ..., 27
    assert opt.state[ours.head.weight]["step"] == 30
    assert _max_diff(ours, ref) < 1e-6


def test_frozen_params_are_left_out():
    model = TinyNet()
    model.emb.weight.requires_grad_(False)
    groups = param_groups(model, 0.01)
    assert all(p is not model.emb.weight for g in groups for p in g["params"])
    frozen = model.emb.weight.detach().clone()
    opt = AdamW(groups, lr=1e-2)
    gen = torch.Generator().manual_seed(4)
    for _ in range(3):
        _train_step(model, opt, *_batch(gen))
    assert torch.equal(model.emb.weight, frozen)


def test_state_dict_round_trip():
    torch.manual_seed(0)
    model_a = TinyNet()
    opt_a = AdamW(param_groups(model_a, 0.01), lr=1e-2)
    gen = torch.Generator().manual_seed(5)
    for _ in range(10):
        _train_step(model_a, opt_a, *_batch(gen))

    # Through bytes, as a checkpoint would be; weights_only=True proves the state is plain data.
    buf = io.BytesIO()
    torch.save({"model": model_a.state_dict(), "opt": opt_a.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    torch.manual_seed(123)
    model_b = TinyNet()
    opt_b = AdamW(param_groups(model_b, 0.5), lr=1.0)  # different hyper-parameters: the load restores them
    model_b.load_state_dict(ckpt["model"])
    opt_b.load_state_dict(ckpt["opt"])
    assert [g["lr"] for g in opt_b.param_groups] == [1e-2, 1e-2]
    assert [g["weight_decay"] for g in opt_b.param_groups] == [0.01, 0.0]

    for _ in range(10):
        ids, y = _batch(gen)
        _train_step(model_a, opt_a, ids, y)
        _train_step(model_b, opt_b, ids, y)
    assert _max_diff(model_a, model_b) == 0.0
    assert opt_b.state[model_b.fc.weight]["step"] == 20


def test_defaults_and_validation():
    opt = AdamW([nn.Parameter(torch.zeros(2))])
    assert opt.defaults == dict(lr=2e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    for bad in (dict(lr=-1.0), dict(betas=(0.9, 1.0)), dict(eps=-1.0), dict(weight_decay=-0.1)):
        with pytest.raises(ValueError):
            AdamW([nn.Parameter(torch.zeros(2))], **bad)


# ----------------------------------------------------------------------------------------------------------
# param_groups


def test_param_groups_split():
    model = TinyNet()
    groups = {g["name"]: g for g in param_groups(model, 0.01)}
    decay = {id(p) for p in groups["decay"]["params"]}
    no_decay = {id(p) for p in groups["no_decay"]["params"]}
    assert groups["decay"]["weight_decay"] == 0.01 and groups["no_decay"]["weight_decay"] == 0.0
    for p in (model.emb.weight, model.fc.weight, model.head.weight, model.extra.weight):
        assert id(p) in decay
    for p in (model.fc.bias, model.ln.weight, model.ln.bias, model.head.bias, model.extra.bias):
        assert id(p) in no_decay
    assert len(decay) + len(no_decay) == len(list(model.parameters()))


# ----------------------------------------------------------------------------------------------------------
# schedule


def test_schedule_closed_form():
    total, warm, base = 1000, 100, 3e-5
    f = lambda s: cosine_with_warmup(s, total, warm, base)
    assert f(0) == 0.0
    assert f(50) == pytest.approx(base / 2)
    assert f(warm) == pytest.approx(base)
    assert f(550) == pytest.approx(base / 2)  # half-way through the decay: cos(pi/2) = 0
    assert f(total - 1) == pytest.approx(base * 0.5 * (1 + math.cos(math.pi * 899 / 900)))
    assert f(total) == pytest.approx(0.0, abs=1e-20)
    assert f(total + 10) == pytest.approx(0.0, abs=1e-20)  # clamped past the end
    lrs = [f(s) for s in range(total + 1)]
    assert all(a < b for a, b in zip(lrs[:warm], lrs[1 : warm + 1], strict=True))
    assert all(a > b for a, b in zip(lrs[warm:-1], lrs[warm + 1 :], strict=True))
    # with a floor
    g = lambda s: cosine_with_warmup(s, total, warm, base, min_lr=1e-6)
    assert g(0) == 0.0 and g(warm) == pytest.approx(base) and g(total) == pytest.approx(1e-6)
    assert g(550) == pytest.approx((base + 1e-6) / 2)


def test_schedule_edge_cases_and_errors():
    assert cosine_with_warmup(0, 10, 0, 1.0) == 1.0  # no warm-up: start at the peak
    assert cosine_with_warmup(10, 10, 10, 1.0) == 1.0  # all warm-up
    for args in ((0, 0, 0, 1.0), (0, 10, 11, 1.0), (-1, 10, 1, 1.0)):
        with pytest.raises(ValueError):
            cosine_with_warmup(*args)
    with pytest.raises(ValueError):
        cosine_with_warmup(0, 10, 1, 1.0, min_lr=2.0)


@pytest.mark.parametrize("total,warm,min_lr", [(1000, 100, 0.0), (37, 4, 0.0), (50, 0, 0.0), (200, 20, 1e-6)])
def test_schedule_matches_huggingface(total, warm, min_lr):
    import transformers  # a pinned test-only reference (requirements-dev.txt): never skipped

    base = 2e-5
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base)
    if min_lr:
        sched = transformers.get_cosine_with_min_lr_schedule_with_warmup(opt, warm, total, min_lr=min_lr)
    else:
        sched = transformers.get_cosine_schedule_with_warmup(opt, warm, total)
    for step in range(total + 1):
        assert cosine_with_warmup(step, total, warm, base, min_lr) == pytest.approx(
            opt.param_groups[0]["lr"], rel=1e-12, abs=1e-20
        ), step
        opt.step()
        sched.step()


def test_warmup_steps():
    assert warmup_steps(1000) == 100
    assert warmup_steps(1001, 0.1) == 101  # ceil
    assert warmup_steps(5, 0.1) == 1  # a positive ratio always gives a step
    assert warmup_steps(100, 0.07) == 7  # float noise (7.000000000000001) does not add a step
    assert warmup_steps(100, 0.0) == 0
    with pytest.raises(ValueError):
        warmup_steps(100, 1.5)
