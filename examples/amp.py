"""
AMP, the Adversarial Mixing Policy: Liu, Mao, Huang, Gao and Li, "Adversarial Mixing Policy for Relaxing
Locally Linear Constraints in Mixup", EMNLP 2021, pages 2998-3008 (arXiv 2109.07177).

Mixup ties the features and the label to one λ: h = λ·h_i + (1-λ)·h_j with label weight λ. AMP, a
"min-max-rand" formulation as we read it: draw λ at random as Mixup does (rand), move the features' mixing
coefficient a small step in the direction that raises the loss (max), keep the label's λ, and train on the
result (min): a little non-linearity between the synthetic example and its synthetic label.

    python run.py --method examples/amp.py:AMP --dataset trec-coarse
    python -m amplify.check_method examples/amp.py:AMP

Our choices. This file follows the paper's abstract (a small adversarial perturbation of the mixing
coefficients, not of the examples, so that synthetic examples and labels are no longer tied by one λ); the
details below are our reading, not checked against the paper's method section or its code (none was used):
  - the mixing site is TMix's (one block's output, k drawn from {7, 9, 12} of 12), the baselines' λ
    (Beta(0.2, 0.2), max(l, 1-l)); the paper reports AMP over several mixup variants;
  - one step, per example, of the sign of the loss gradient w.r.t. that example's feature coefficient
    (FGSM on λ, one extra forward and backward per step), of size ε times the partner's share:
    λ_i' = clamp(λ + ε·(1-λ)·sign(∂L/∂λ_i), 0, 1). The factor (1-λ) keeps a step drawn at λ = 1 unmixed,
    as every method here (amplify/protocol.py); per example, so that an example's coefficient depends on it
    and its partner only. ε = 0.1 (--method-option eps=...) is ours, not tuned.
  - the loss is Mixup's, λ·CE(y) + (1-λ)·CE(y[perm]) with the drawn λ and the same perm.
"""

import torch
import torch.nn.functional as F

from amplify.methods import TMix
from model.packing import Mixer


class AMP(TMix):
    name = "amp"

    def __init__(self, n_layers, eps=0.1, **kw):
        super().__init__(n_layers, **kw)
        self.eps = float(eps)

    def mix_with(self, plan, lam):
        """The mixer with the features' coefficient `lam`: a 0-d tensor, or (B,) one per example."""
        w = lam.reshape(-1, 1, 1) if lam.dim() else lam  # (B, 1, 1): broadcast over (B, T, d)

        def mix(at, layer, h, mask):
            if at != "block" or layer not in plan.layers:
                return h, mask
            return w * h + (1 - w) * h[plan.perm], mask

        return Mixer(mix, mixes=frozenset(("block", k) for k in plan.layers), perm=plan.perm)

    def prepare(self, model, batch, plan, amp):
        """The "max" step: the gradient of the mixed loss w.r.t. each example's feature coefficient."""
        plan.lam_features = plan.lam
        if not plan.layers:
            return batch
        lam = plan.lam.expand(batch["labels"].shape[0]).clone().requires_grad_()  # (B,)
        with amp():
            logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                           mix=self.mix_with(plan, lam))
        y = batch["labels"]
        loss = plan.lam * F.cross_entropy(logits.float(), y) + (1 - plan.lam) * F.cross_entropy(
            logits.float(), y[plan.label_perm])
        (g,) = torch.autograd.grad(loss, lam)  # (B,)
        plan.lam_features = (plan.lam + self.eps * (1 - plan.lam) * g.sign()).clamp(0, 1).detach()
        return batch

    def mixer(self, plan):
        return self.mix_with(plan, getattr(plan, "lam_features", plan.lam))

    def describe(self):
        return {**super().describe(), "eps": self.eps, "paper": "Liu et al., EMNLP 2021 (arXiv 2109.07177)"}
