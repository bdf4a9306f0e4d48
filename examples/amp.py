"""
AMP, the Adversarial Mixing Policy: Liu, Mao, Huang, Gao and Li, "Adversarial Mixing Policy for Relaxing
Locally Linear Constraints in Mixup", EMNLP 2021, pages 2998-3008 (arXiv 2109.07177).

Mixup trains on λ·x_i + (1-λ)·x_j with the label λ·y_i + (1-λ)·y_j. AMP, "min-max-rand": draw λ (rand), move
it one gradient step up the loss, the labels' λ held fixed (max), train on example and label mixed at it (min).

As the authors' released code does it for BERT, with its defaults: the embedding output mixed, each example
keeping its own mask; λ_i ~ Beta(1, 1) per example; λ_i' = λ_i + γ·∂L/∂λ_i with L the batch's mean mixed loss
and γ = 0.002 (--method-option gamma=...), one extra forward and backward per step; Mixup's loss at λ'.
Ours differs in three ways (docs/adding-a-method.md says why): cross-entropy where the code uses a binary
cross-entropy of the softmax; no per-example choice between the losses before and after the step, and no
weighting by the loss's rise (they tie an example's loss to the others' and to earlier batches); λ = 1 is
not moved, so that a step at λ = 1 mixes nothing (amplify/protocol.py). Run: --method examples/amp.py:AMP.
"""

from dataclasses import replace

import torch
import torch.nn.functional as F

from amplify.methods import Method
from model.packing import Mixer


class AMP(Method):
    name, sites = "amp", ("embeddings",)
    alpha = 1.0  # λ_i ~ Beta(α, α), one per example

    def __init__(self, n_layers, gamma=0.002, **kw):
        super().__init__(n_layers, **kw)
        self.gamma = float(gamma)

    def draw_layers(self, rng):
        return frozenset({0})

    def plan(self, batch_size, rng, gen, device):
        plan = super().plan(batch_size, rng, gen, device)  # the partners and the site; one λ per example:
        if not plan.layers:
            return plan
        lam = torch.from_numpy(rng.beta(self.alpha, self.alpha, batch_size)).float()  # (B,)
        return replace(plan, lam=lam.to(device), lam_value=float(lam.mean()))

    def mix_with(self, plan, lam):
        w = lam.reshape(-1, 1, 1) if lam.dim() else lam  # broadcast over h (B, T, d)

        def mix(at, layer, h, mask):
            if at != "embeddings" or layer not in plan.layers:
                return h, mask
            return w * h + (1 - w) * h[plan.perm], mask

        return Mixer(mix, mixes=frozenset(("embeddings", k) for k in plan.layers), perm=plan.perm)

    def mixed_loss(self, logits, labels, plan, lam):  # λ: 0-d, or (B,) one per example
        own = F.cross_entropy(logits, labels, reduction="none")  # (B,)
        other = F.cross_entropy(logits, labels[plan.label_perm], reduction="none")
        return (lam * own + (1 - lam) * other).mean()

    def prepare(self, model, batch, plan, amp):
        """The "max" step: λ moved along the gradient of the mixed loss w.r.t. the features' coefficients."""
        plan.moved = plan.lam
        if not plan.layers:
            return batch
        lam = plan.lam.expand(batch["labels"].shape[0]).clone().requires_grad_()  # (B,)
        with amp():
            logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                           mix=self.mix_with(plan, lam))
        (g,) = torch.autograd.grad(self.mixed_loss(logits.float(), batch["labels"], plan, lam.detach()), lam)
        plan.moved = torch.where(plan.lam == 1, plan.lam, lam.detach() + self.gamma * g)  # (B,)
        return batch

    def mixer(self, plan):
        return self.mix_with(plan, getattr(plan, "moved", plan.lam))

    def loss(self, logits, labels, plan):
        return self.mixed_loss(logits, labels, plan, getattr(plan, "moved", plan.lam))

    def describe(self):
        return {**super().describe(), "gamma": self.gamma, "paper": "Liu et al., EMNLP 2021 (arXiv 2109.07177)"}
