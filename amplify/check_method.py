"""
The contract check: does a method keep the rules every method here keeps (amplify/protocol.py)?

    python -m amplify.check_method path/to/my_method.py:MyMix [--method-option KEY=VALUE ...]
    python -m amplify.check_method amplify            # a built-in, by name

prints one line per property, pass or FAIL and why, and exits 0 when every property holds, 1 when one fails,
2 when the method does not load. On a tiny random BERT (4 blocks, hidden 32), CPU, a few seconds. In a test:
`assert_passes("path/to/my_method.py:MyMix")` raises an AssertionError listing the failures.

The properties, each on batches of 8 examples (padded single sentences unless said):
  evaluation    in eval mode, the model given the method's mixer gives the logits of no mixer.
  lambda=1      a step whose λ is forced to 1 (its layers kept) mixes nothing: no example's logits change
                with another example's tokens, no example's loss with another's label. A method that keeps each
                example's own mask: the logits of `none`, and the loss and gradients of its own step with
                nothing to mix (no layers; for every method but labelsmooth, that is `none`'s cross-entropy).
                A union-mask method (EmbedMix, Manifold Mixup: the partner's padding becomes real, so the
                logits differ): the loss of the example's own labels, as its unmixed step computes it.
  same partner  at λ = 0.5, for every example j: the examples whose loss gradient changes when j's label
                changes (those that took j's label) took j's features too (their logits change when j's tokens
                change), and are the examples whose declared partner is j (Mixer.perm). AMPLIFY, mixing in
                every block with one perm, passes features along the permutation's cycles, so features may
                reach further than the label; a label never goes where no feature went.
  finite        loss and every gradient finite, at λ = 0.5 and at the method's own draws.
  deterministic two runs of 3 optimiser steps from one seed (dropout on) give the same losses and weights.
  batches       padded, without padding, and sentence pairs: each trains, and the model's padding-free path
                gives the logits and loss of the plain padded computation (the mixer's declarations are true).
  resume        3 steps, a checkpoint file written and read by amplify/checkpoint.py (weights, optimiser, the
                generators), and 2 more steps with a new model and a new method instance: the numbers of 5
                uninterrupted steps. A method that keeps other state across steps, or draws from a generator
                of its own, fails here.
"""

import argparse
import tempfile
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from amplify import checkpoint as ckpt
from amplify.methods import make_method, seeded_generators
from amplify.train import train_step
from amplify.user_methods import MethodLoadError, MethodOptions, method_arg
from model.bert import BertForSequenceClassification, no_mix, tiny_config
from model.packing import Mixer

B, N_LAYERS, N_LABELS = 8, 4, 3
TOL = 1e-5
CHECKPOINT_CONFIG = {"check": "resume"}  # what a checkpoint must match (here: written and read by the check)


@dataclass
class Verdict:
    prop: str
    ok: bool
    why: str


def no_amp():
    return torch.autocast("cpu", enabled=False)


def make_batch(kind, seed=0):
    """8 examples: "padded" (lengths 2..9), "no-padding" (all 9 tokens), "pairs" ([CLS] a [SEP] b [SEP])."""
    g = torch.Generator().manual_seed(seed)
    lengths = {"padded": [9, 3, 6, 2, 9, 5, 7, 4], "no-padding": [9] * B, "pairs": [9, 7, 8, 6, 9, 5, 9, 7]}[kind]
    T = max(lengths)
    pos = torch.arange(T)[None, :]  # (1, T)
    n = torch.tensor(lengths)[:, None]  # (B, 1)
    mask = (pos < n).long()  # (B, T)
    ids = torch.randint(1000, 2000, (B, T), generator=g) * mask
    ids[:, 0] = 101
    ids[torch.arange(B), n[:, 0] - 1] = 102  # [SEP] ends every example
    types = torch.zeros_like(ids)
    if kind == "pairs":  # the second segment: its last 3 tokens, the final [SEP] included
        second = (pos >= n - 3) & (pos < n)
        types[second] = 1
        ids[(pos == n - 4)] = 102  # the [SEP] between the segments
    labels = torch.randint(0, N_LABELS, (B,), generator=g)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}


def tiny_model(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    cfg = tiny_config(num_hidden_layers=N_LAYERS, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(cfg, num_labels=N_LABELS).train()


def forward(model, method, batch, plan, padding_free=True):
    """One step's logits and loss, as amplify/train.py's train_step computes them (no update)."""
    model.bert.padding_free = padding_free
    try:
        b = method.prepare(model, batch, plan, no_amp)
        logits = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], mix=method.mixer(plan))
        loss = method.loss(logits.float(), b["labels"], plan)
    finally:  # a method that raises must not leave the model padded for the next property
        model.bert.padding_free = True
    return logits, loss


def grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def mixing_plan(method, lam=0.5, tries=50):
    """A plan of the method's own (its layers and partners) that mixes somewhere, with λ forced to `lam`;
    the last draw if none of `tries` mixes (a method that never mixes)."""
    for seed in range(tries):
        rng, gen = seeded_generators(seed)
        plan = method.plan(B, rng, gen, "cpu")
        if plan.layers:
            break
    return replace(plan, lam=torch.tensor(lam), lam_value=lam)


def differ(a, b):
    return max(((a[k] - b[k]).abs().max().item() for k in a), default=0.0) if a.keys() == b.keys() else float("inf")


def check_evaluation(build):
    model, method, batch = tiny_model(), build(), make_batch("padded")
    plan = mixing_plan(method)
    model.eval()
    with torch.no_grad():  # evaluation (amplify/train.py's evaluate) never calls the method's prepare or loss
        got = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=method.mixer(plan))
        want = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=no_mix)
    d = (got - want).abs().max().item()
    return d <= TOL, f"max |logits - unmixed logits| in eval mode = {d:.1e}"


def influence(model, method, batch, plan):
    """For each example j: (the examples whose logits change when j's tokens change, those whose loss gradient
    w.r.t. their logits changes when j's label changes), j itself left out; and the partners the mixer declares."""
    logits = forward(model, method, batch, plan)[0].detach()  # no torch.no_grad: SSMix's prepare needs gradients
    mixer = method.mixer(plan)
    declared = mixer.perm if isinstance(mixer, Mixer) else None  # (B,) the partners it says it mixes in
    fixed = logits.float().requires_grad_()
    base_g = torch.autograd.grad(method.loss(fixed, batch["labels"], plan), fixed)[0]
    real = batch["attention_mask"].bool()
    real[:, 0] = False  # [CLS] stays
    out = []
    for j in range(B):
        ids = batch["input_ids"].clone()
        ids[j][real[j]] = ids[j][real[j]] + 1000  # every token of example j changes
        other = forward(model, method, {**batch, "input_ids": ids}, replace(plan))[0].detach()
        took_features = set((other - logits).abs().amax(1).gt(1e-6).nonzero().flatten().tolist()) - {j}
        labels = batch["labels"].clone()
        labels[j] = (labels[j] + 1) % N_LABELS
        g = torch.autograd.grad(method.loss(fixed, labels, plan), fixed)[0]
        took_label = set((g - base_g).abs().amax(1).gt(1e-7).nonzero().flatten().tolist()) - {j}
        out.append((took_features, took_label))
    return out, declared


def check_lambda_one(build):
    model, method, batch = tiny_model(), build(), make_batch("padded")
    plan = mixing_plan(method, lam=1.0)
    leaks = [f"example {j}'s features reach {sorted(f)}, its label {sorted(y)}"
             for j, (f, y) in enumerate(influence(model, method, batch, plan)[0]) if f or y]
    if leaks:
        return False, "at λ = 1: " + "; ".join(leaks[:2])
    unmixed = replace(plan, layers=frozenset())
    logits, loss = forward(model, method, batch, plan)
    g = grads(model, loss)
    if getattr(method, "union", False):
        own = method.loss(logits.detach().float(), batch["labels"], unmixed)
        d = abs(loss.item() - own.item())
        return d <= TOL, f"no partner reaches an example; union mask: |loss - loss of the own labels| = {d:.1e}"
    ref_logits, ref_loss = forward(model, method, batch, unmixed)
    ref_g = grads(model, ref_loss)
    none_logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    dl, dloss, dg = (logits - none_logits).abs().max().item(), abs(loss.item() - ref_loss.item()), differ(g, ref_g)
    ok = max(dl, dloss, dg) <= TOL
    return ok, (f"no partner reaches an example; vs none's logits {dl:.1e}, vs its unmixed step's loss {dloss:.1e} "
                f"and gradients {dg:.1e}")


def check_same_partner(build):
    model, method, batch = tiny_model(), build(), make_batch("padded")
    found, declared = influence(model, method, batch, mixing_plan(method))
    bad, mixed = [], 0
    for j, (took_features, took_label) in enumerate(found):
        mixed += bool(took_features)
        ok = took_label <= took_features and bool(took_label) == bool(took_features)
        if ok and took_features and declared is not None:  # the label goes to the direct partner, perm[i] = j
            ok = took_label == set((declared == j).nonzero().flatten().tolist()) - {j}
        if not ok:
            bad.append(f"example {j}'s features went to {sorted(took_features)}, its label to {sorted(took_label)}")
    if bad:
        return False, "; ".join(bad[:2]) + (f" (+{len(bad) - 2} more)" if len(bad) > 2 else "")
    return True, f"{mixed} of {B} examples mixed into a partner, each with its label" if mixed else \
        "nothing mixed at λ = 0.5 (nothing to pair)"


def check_finite(build):
    model, method, batch = tiny_model(), build(), make_batch("padded")
    plans = [mixing_plan(method)] + [method.plan(B, *seeded_generators(s), "cpu") for s in range(3)]
    for plan in plans:
        _, loss = forward(model, method, batch, plan)
        g = grads(model, loss)
        if not torch.isfinite(loss) or not all(torch.isfinite(v).all() for v in g.values()):
            bad = [k for k, v in g.items() if not torch.isfinite(v).all()][:3]
            return False, f"λ = {plan.lam_value:.3f}: loss {loss.item()}, non-finite gradients in {bad}"
    return True, f"loss and gradients finite at λ = 0.5 and {len(plans) - 1} draws of its own"


def train_steps(build, n, seed=0, resume=None, save=None):
    """n optimiser steps (dropout on, SGD with momentum), as amplify/train.py takes them; first restoring the
    checkpoint file `resume` (amplify/checkpoint.py) if given, last writing one to `save` if given.
    Returns (the losses, the weights after them)."""
    model, method = tiny_model(seed, dropout=0.1), build()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng, gen = seeded_generators(seed)
    torch.manual_seed(seed)
    step, cpu = 0, torch.device("cpu")
    if resume is not None:
        state, why = ckpt.load(resume, CHECKPOINT_CONFIG)
        if state is None:
            raise RuntimeError(f"the checkpoint did not load: {why}")
        step = ckpt.restore(state, model, opt, rng, gen, cpu)[0]["step"]
    method.start_epoch(1)
    losses = []
    for i in range(step, step + n):
        batch = make_batch(("padded", "no-padding", "pairs")[i % 3], seed=i)
        losses.append(train_step(model, method, batch, opt, rng, gen, cpu, no_amp).item())
    if save is not None:
        why = ckpt.save(save, config=CHECKPOINT_CONFIG, epoch=0, model=model, optimizer=opt, rng=rng, gen=gen,
                        device=cpu, loop={"step": step + n, "best_test": None}, best_state=None, log_rows=[])
        if why:
            raise RuntimeError(why)
    return losses, {k: v.clone() for k, v in model.state_dict().items()}


def same_run(a, b):
    (la, wa), (lb, wb) = a, b
    dw = differ(wa, wb)
    return la == lb and dw == 0.0, f"losses {'equal' if la == lb else f'{la} vs {lb}'}, max |Δ weight| {dw:.1e}"


def check_deterministic(build):
    ok, why = same_run(train_steps(build, 3), train_steps(build, 3))
    return ok, "two runs of 3 steps, seed 0: " + why


def check_batches(build):
    model, method = tiny_model(), build()
    notes = []
    for kind in ("padded", "no-padding", "pairs"):
        batch = make_batch(kind)
        plan = mixing_plan(method)
        packed, loss_packed = forward(model, method, batch, plan, padding_free=True)
        padded, loss_padded = forward(model, method, batch, plan, padding_free=False)
        d = max((packed - padded).abs().max().item(), abs(loss_packed.item() - loss_padded.item()))
        if not torch.isfinite(loss_packed) or d > TOL:
            return False, f"{kind}: loss {loss_packed.item():.4f}, padding-free vs padded differ by {d:.1e}"
        notes.append(f"{kind} {d:.0e}")
    return True, "padding-free = padded: " + ", ".join(notes)


def check_resume(build):
    whole = train_steps(build, 5)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "check.ckpt.pt"
        train_steps(build, 3, save=path)
        rest = train_steps(build, 2, resume=path)
    ok, why = same_run((whole[0][3:], whole[1]), rest)
    return ok, "5 steps vs 3, a checkpoint, a new model and method, 2: " + why


CHECKS = {"evaluation": check_evaluation, "lambda=1": check_lambda_one, "same partner": check_same_partner,
          "finite": check_finite, "deterministic": check_deterministic, "batches": check_batches,
          "resume": check_resume}


def check(method, options=None):
    """Every property for a method (a built-in's name or a "path.py:Class" spec): a list of Verdicts."""
    def build():
        return make_method(method, N_LAYERS, method_options=options)

    build()  # a method that cannot be built fails here, not once per property
    out, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: bit-equal sums between runs, and fastest for so small a model
    try:
        for prop, fn in CHECKS.items():
            try:
                ok, why = fn(build)
            except Exception as e:  # a property that crashes fails, and says how
                ok, why = False, f"raised {type(e).__name__}: {e}"
            out.append(Verdict(prop, bool(ok), why))
    finally:
        torch.set_num_threads(threads)
    return out


def assert_passes(method, options=None):
    """For a test: AssertionError naming every property the method fails."""
    failed = [v for v in check(method, options) if not v.ok]
    assert not failed, f"{method} fails: " + "; ".join(f"{v.prop}: {v.why}" for v in failed)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m amplify.check_method",
                                description="Check a mixup method against the suite's contract on a tiny model.")
    p.add_argument("method", type=method_arg, help="path/to/file.py:Class, package.module:Class or a built-in name")
    p.add_argument("--method-option", dest="method_options", nargs="+", action=MethodOptions, default=None,
                   metavar="KEY=VALUE", help="options passed to the method's constructor")
    args = p.parse_args(argv)
    try:
        verdicts = check(args.method, args.method_options)
    except (MethodLoadError, ValueError) as e:  # the suite's own one-line errors (a bad path, name or option)
        p.exit(2, f"{p.prog}: error: method {args.method} cannot be built: {e}\n")
    except Exception as e:  # the method's constructor raised: its traceback, then one line
        traceback.print_exc()
        p.exit(2, f"{p.prog}: error: method {args.method} cannot be built: its constructor raised "
                  f"{type(e).__name__}: {e} (options given: {args.method_options or 'none'})\n")
    width = max(len(v.prop) for v in verdicts)
    for v in verdicts:
        print(f"{'pass' if v.ok else 'FAIL'}  {v.prop:{width}s}  {v.why}")
    n_bad = sum(not v.ok for v in verdicts)
    print(f"{args.method}: " + ("every property holds" if not n_bad else f"{n_bad} of {len(verdicts)} properties fail"))
    return 1 if n_bad else 0


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
