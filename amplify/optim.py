"""The optimiser and learning-rate schedule, written out by hand.

Three pieces, in the order a training loop uses them:

1. `param_groups(model, weight_decay)` splits the parameters into a group that gets weight decay and one
   that does not. BERT's recipe says "no decay on biases and LayerNorm weights"; in a Transformer the
   parameters that *do* decay (embedding tables, linear weights) are exactly the 2-D ones, and everything
   else (biases, LayerNorm gains and shifts) is 1-D. So the rule is simply `p.ndim >= 2` - no matching of
   parameter names, which breaks as soon as someone names a module differently.

2. `AdamW`: Adam with *decoupled* weight decay. Plain Adam with L2 regularisation adds `wd * p` to the
   gradient, so the decay gets divided by sqrt(v) like everything else and parameters with large gradients
   are barely regularised. Loshchilov & Hutter instead shrink the weights directly, outside the adaptive
   update. Per step t, with gradient g and learning rate lr:

       p  <- p * (1 - lr * wd)                         # decoupled weight decay (before the Adam update)
       m  <- b1 * m + (1 - b1) * g                     # first moment  (running mean of g)
       v  <- b2 * v + (1 - b2) * g * g                 # second moment (running mean of g^2)
       bc1 = 1 - b1^t,   bc2 = 1 - b2^t                # bias corrections: m, v start at 0
       p  <- p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)

   This is the formula `torch.optim.AdamW` computes, in the same order, so the two agree to float
   rounding (tests/test_optim.py checks 1e-6 after 100 steps, on both paths below).

   Speed. The update is pure memory traffic: per element it reads p, g, m, v and writes p, m, v, a few
   flops each. Written as one `torch._foreach_*` call per line of the formula (the eager path, below),
   each line is a separate pass over the whole model and `sqrt(v)` allocates a model-sized temporary:
   ~20 model-sized passes per step instead of 7, and on CPU (where foreach ops are a loop of per-tensor
   kernels) 4-5x the time of `torch.optim.AdamW(fused=True)` (129 ms vs 29 ms for MiniLM's 22.7 M
   parameters). So by default the same formula, written per tensor in `adamw_update_`, is handed to
   `torch.compile`, which fuses each tensor's whole update into one loop: 7 passes, as fast as torch's
   fused kernel. Compiling costs seconds to a minute once per process (cached on disk across
   processes), so it is used only where it pays back: buckets of >= `COMPILE_MIN_NUMEL` elements,
   where torch.compile works (a C++ compiler on CPU, Triton on CUDA). Anywhere else, or if compiling
   fails, the eager foreach path runs: slower, same numbers.

3. `cosine_with_warmup(step, ...)`: linear warm-up then cosine decay, with the exact convention of
   Hugging Face's `get_cosine_schedule_with_warmup`, so our numbers are comparable with papers trained
   with the HF Trainer. `warmup_steps(total, ratio)` turns a warm-up ratio into steps; `set_lr` writes an
   lr into an optimiser.

References:
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019. arXiv:1711.05101
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015. arXiv:1412.6980
    Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        NAACL 2019 (AdamW, no decay on biases/LayerNorm, linear warm-up). arXiv:1810.04805
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017 (cosine decay).
    Hugging Face transformers, `optimization.get_cosine_schedule_with_warmup` and
        `TrainingArguments.get_warmup_steps`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import nn

# ----------------------------------------------------------------------------------------------------------
# 1. which parameters decay


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split `model`'s trainable parameters into a decay group and a no-decay group.

    Decay goes on parameters with ndim >= 2 (embedding tables, linear/attention weights); biases and
    LayerNorm weights/biases are 1-D and get none. This is what BERT's "no weight decay on biases and
    LayerNorm weights" amounts to, without depending on parameter names. Parameters with
    requires_grad=False (a frozen encoder, say) are left out entirely. Tied parameters appear once
    (`named_parameters` de-duplicates them). Empty groups are dropped, so a model with no 1-D parameters
    gives one group. Each group carries a "name" ("decay" / "no_decay") for logging; torch optimisers
    keep extra keys and save them in state_dict.
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [
        {"name": "decay", "params": decay, "weight_decay": weight_decay},
        {"name": "no_decay", "params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("model has no trainable parameters (all have requires_grad=False)")
    return groups


# ----------------------------------------------------------------------------------------------------------
# 2. the optimiser


COMPILE_MIN_NUMEL = 4_000_000  # compile the update of buckets this big (MiniLM 22.7 M, BERT-base 110 M)


def adamw_update_(params, grads, exp_avgs, exp_avg_sqs, decay, one_minus_beta1, beta2, one_minus_beta2,
                  bc2_sqrt, eps, neg_step_size):
    """The AdamW update of every tensor in the lists, in place: the formula above, one tensor at a time.

    Compiled (see `AdamW`), each iteration becomes one fused loop over the tensor's elements. The scalars
    come in as 0-d tensors, computed on the host in float64 and rounded once to the parameters' dtype
    (what torch's kernels do with a Python scalar): as tensors they are inputs of the compiled code, not
    constants baked into it, so a new lr or step count does not recompile.
    """
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs, strict=True):
        p.mul_(decay)  # decoupled weight decay
        m.lerp_(g, one_minus_beta1)  # m <- b1*m + (1-b1)*g
        v.mul_(beta2).addcmul_(g, g * one_minus_beta2)  # v <- b2*v + (1-b2)*g*g
        denom = v.sqrt() / bc2_sqrt + eps
        p.add_(m / denom * neg_step_size)  # p <- p - lr/bc1 * m / denom


def compile_available(device: torch.device) -> bool:
    """Whether torch.compile can build kernels here: Triton on CUDA, a C++ compiler on CPU."""
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        return has_triton()
    if device.type != "cpu":
        return False
    import shutil

    return any(shutil.which(cc) for cc in ("g++", "c++", "clang++"))


class AdamW(torch.optim.Optimizer):
    """AdamW (Loshchilov & Hutter 2019), computing what `torch.optim.AdamW` computes (no amsgrad/maximize).

    Defaults are BERT fine-tuning's: lr=2e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01. `params`
    is what any torch optimiser takes: an iterable of tensors, or of dicts (e.g. from `param_groups`)
    whose keys override the defaults per group.

    `compile`: True compiles every bucket's update, False never does, None (default) compiles buckets
    of >= COMPILE_MIN_NUMEL elements where `compile_available`. Both paths compute the same formula
    (tests/test_optim.py proves each equal to torch.optim.AdamW).

    State per parameter: "step" (a plain Python int), "exp_avg" (m) and "exp_avg_sq" (v), created on
    the parameter's first update with its dtype and device. Under bf16 autocast the parameters and their
    grads stay fp32 (autocast only lowers the precision of the matmuls), so the state is fp32 too.
    `state_dict` / `load_state_dict` come from the base class unchanged.
    """

    def __init__(
        self,
        params,
        lr: float = 2e-5,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        compile: bool | None = None,
    ):
        if not lr >= 0.0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must each be in [0, 1), got {betas}")
        if not eps >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.compile = compile
        self._compiled = None  # the compiled adamw_update_, built on first use
        self.compile_failed = None  # the error, if compiling failed and we fell back to eager

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One update of every parameter that has a .grad; parameters whose grad is None are skipped
        (no state, no decay, step count unchanged - exactly as torch.optim.AdamW does)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]

        # Gather the tensors into buckets that can share one foreach call (or one compiled call).
        # _foreach_* ops need every tensor in a call on the same device with the same dtype, and we want
        # one scalar bias correction per call, so a bucket is keyed by (device, dtype, step). This loop
        # only does bookkeeping (state lookup, lazy init); all arithmetic happens below, a list at a time.
        buckets: dict[tuple, tuple[list, list, list, list]] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("AdamW does not support sparse gradients (use nn.Embedding(sparse=False))")
            if torch.is_complex(p):
                raise RuntimeError("AdamW here does not support complex parameters")
            state = self.state[p]
            if not state:
                # Why a plain Python int and not a tensor: the bias corrections 1 - beta^t are then
                # computed on the host in float64 and passed to the kernels as plain scalars, so there is
                # never a host-device sync (reading a CUDA scalar with .item() would stall the GPU queue
                # every step). torch.optim.AdamW keeps a CPU float tensor for the same reason, moving it
                # to the GPU only for `capturable=True` (CUDA graphs), which we do not need.
                # Why per parameter and not per group: a parameter whose grad is None on some steps
                # (e.g. a head only used on some batches) has taken fewer steps than its neighbours and
                # needs its own bias correction; counting per parameter is also what torch does. In
                # ordinary training all steps are equal, so there is one bucket per device/dtype.
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1
            key = (p.device, p.dtype, state["step"])
            ps, gs, ms, vs = buckets.setdefault(key, ([], [], [], []))
            ps.append(p)
            gs.append(p.grad)
            ms.append(state["exp_avg"])
            vs.append(state["exp_avg_sq"])

        for (device, dtype, t), tensors in buckets.items():
            # m and v start at zero, so early on they are biased towards zero by factors 1-b^t.
            bias_correction1 = 1.0 - beta1**t
            bias_correction2 = 1.0 - beta2**t
            if self._use_compiled(device, sum(p.numel() for p in tensors[0])):
                scalars = (1.0 - lr * wd, 1.0 - beta1, beta2, 1.0 - beta2, math.sqrt(bias_correction2), eps,
                           -lr / bias_correction1)
                try:
                    self._compiled(*tensors, *(torch.tensor(s, dtype=dtype) for s in scalars))
                    continue
                except Exception as e:  # no working compiler after all: say so once, then stay eager
                    warnings.warn(f"amplify/optim.py: compiling the AdamW update failed ({type(e).__name__}: "
                                  f"{e}); using the eager foreach path (same numbers, slower)", stacklevel=3)
                    self.compile_failed = e
            self._eager_update(*tensors, lr, beta1, beta2, eps, wd, bias_correction1, bias_correction2)

    def _use_compiled(self, device: torch.device, numel: int) -> bool:
        if self.compile is False or self.compile_failed is not None:
            return False
        if self.compile is None and not (numel >= COMPILE_MIN_NUMEL and compile_available(device)):
            return False
        if self._compiled is None:
            self._compiled = torch.compile(adamw_update_, fullgraph=True)
        return True

    @staticmethod
    def _eager_update(params, grads, exp_avgs, exp_avg_sqs, lr, beta1, beta2, eps, wd,
                      bias_correction1, bias_correction2) -> None:
        """The same update as `adamw_update_`, one `torch._foreach_*` call per line of the formula:
        one kernel launch (on CUDA) per operation for the whole bucket instead of one per parameter."""
        # Decoupled weight decay: shrink the weights themselves, before (and outside) the adaptive
        # step. Same order as torch, which matters for agreement to the last bits.
        if wd != 0.0:
            torch._foreach_mul_(params, 1.0 - lr * wd)

        # m <- b1*m + (1-b1)*g, written as lerp(m, g, 1-b1) = m + (1-b1)*(g - m): the same value in
        # one kernel instead of two, and what torch uses.
        torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
        # v <- b2*v + (1-b2)*g*g
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)

        # denom = sqrt(v)/sqrt(bc2) + eps. Note eps is added *after* the bias correction of v (as in
        # torch and the Adam paper's pseudo-code); folding sqrt(bc2) into the step size instead would
        # effectively rescale eps, a small but real difference early in training.
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, math.sqrt(bias_correction2))
        torch._foreach_add_(denom, eps)

        # p <- p - lr/bc1 * m / denom
        torch._foreach_addcdiv_(params, exp_avgs, denom, value=-lr / bias_correction1)


# ----------------------------------------------------------------------------------------------------------
# 3. the learning-rate schedule


def cosine_with_warmup(
    step: int, total_steps: int, warmup_steps: int, base_lr: float, min_lr: float = 0.0
) -> float:
    """Learning rate for the optimiser update numbered `step` (0-based): linear warm-up, then cosine decay.

    Convention (Hugging Face's `get_cosine_schedule_with_warmup`, and with min_lr > 0 its
    `get_cosine_with_min_lr_schedule_with_warmup`):

        step <  warmup:  lr = base_lr * step / warmup
        step >= warmup:  progress = (step - warmup) / max(1, total - warmup)
                         lr = min_lr + (base_lr - min_lr) * 0.5 * (1 + cos(pi * progress))

    `step` counts the updates already taken, so the update about to happen uses lr(step): the first update
    (step 0) uses lr = 0 when there is warm-up (yes, a wasted step - HF does the same, and we keep it so
    runs are comparable), lr reaches base_lr at step == warmup, and the last update of a run, step
    total-1, uses a small positive lr; lr(total) = min_lr. Note the warm-up rises from 0, not from min_lr,
    also as in HF. Past total_steps we hold min_lr (HF's cosine would start rising again; we never train
    past total_steps, and clamping makes an off-by-one harmless rather than surprising).
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be > 0, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, total_steps={total_steps}], got {warmup_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if not 0.0 <= min_lr <= base_lr:
        raise ValueError(f"need 0 <= min_lr <= base_lr, got min_lr={min_lr}, base_lr={base_lr}")
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_steps(total_steps: int, warmup_ratio: float = 0.1) -> int:
    """Number of warm-up steps for a warm-up ratio: ceil(total_steps * warmup_ratio), as HF's
    `TrainingArguments.get_warmup_steps` does (so a ratio > 0 always gives at least one step).

    One deliberate difference: we round the product to 9 decimals before the ceil, so float noise cannot
    add a step - in float, 100 * 0.07 is 7.000000000000001, for which HF gives 8 and we give 7.
    """
    if total_steps < 0:
        raise ValueError(f"total_steps must be >= 0, got {total_steps}")
    if not 0.0 <= warmup_ratio <= 1.0:
        raise ValueError(f"warmup_ratio must be in [0, 1], got {warmup_ratio}")
    return math.ceil(round(total_steps * warmup_ratio, 9))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every param group (call once per step, before optimizer.step()).

    We set lr directly instead of using torch.optim.lr_scheduler: the schedule is then a plain function
    of the step you can print, plot and test, and resuming from a checkpoint needs only the step number.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
