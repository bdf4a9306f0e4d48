"""
The method protocol: what a mixup method receives each training step and what it returns. Every built-in
method (amplify/methods.py) satisfies it, and so must a method of one's own (docs/adding-a-method.md).

One step of amplify/train.py, `train_step`, calls the method four times:

    plan   = method.plan(B, rng, gen, device)        # the draw: λ, the partners perm, the layers to mix at
    batch  = method.prepare(model, batch, plan, amp) # the batch to train on (SSMix mixes token ids here)
    logits = model(ids, mask, types, mix=method.mixer(plan))
    loss   = method.loss(logits, labels, plan)       # a 0-d tensor; the loop backpropagates it

and `method.start_epoch(e)` before each epoch (1-based), `method.describe()` once, for the result JSON.

The mixer is called at every insertion point of the model (model/bert.py):
    mix(site, layer, h, mask) -> (h, mask)
    "embeddings", 0    the embedding output, h (B, T, d)
    "attention", 1..L  inside block `layer`, after the attention sub-layer   <- AMPLIFY
    "block", 1..L      the output of block `layer`                           <- TMix, Manifold Mixup
    "pooled", 0        the sentence vector before the classifier, h (B, d)   <- SentenceMix
A mixer is a `model.packing.Mixer`: the callable with where it mixes this step (`mixes`, the (site, layer)
pairs), the partners (`perm`) and the mask rule (`union`) declared, so that the model computes only the
positions it needs (model/packing.py). Declare them truthfully: a position the declaration leaves out is
not computed. A plain function, or a Mixer with mixes=None, gets the plain padded computation (slower, always
right).

The rules every method keeps (python -m amplify.check_method checks them):
  - evaluation never mixes (the model ignores `mix` outside training mode);
  - a step drawn at λ = 1 mixes nothing: for a method keeping each example's own mask, the same logits, loss
    and gradients as `none`; for a union-mask method the loss is that of the example's own labels;
  - features and labels use the same partner: the loss pairs example i with the label of the example whose
    features were mixed into i;
  - gradients are finite; a seed gives the same numbers; padded batches, batches without padding and sentence
    pairs all work, the padding-free path equal to the padded one;
  - all randomness comes from `rng` (a numpy Generator) and `gen` (a CPU torch.Generator), which a
    checkpoint saves and restores (amplify/checkpoint.py), and torch's global generator; a method keeps no
    other state across steps than what `start_epoch` gives it, so a resumed run gives the same numbers.

Constructor: `Class(n_layers, alpha=None, label_perm="same", mix_epochs=None, **options)`, options being the
run's --method-option KEY=VALUE pairs. Subclassing amplify.methods.Method gives all of it, and a method then
overrides only what differs (a site, a λ rule, a loss).
"""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


@dataclass
class Plan:
    """One training step's draw: the mixing weight, the partners, and where to mix."""

    lam: torch.Tensor  # 0-d float tensor on the model's device (a tensor, so compiled graphs reuse it)
    perm: torch.Tensor  # (B,) long, partner of each example
    label_perm: torch.Tensor  # (B,) the partners whose labels enter the loss (== perm by default)
    layers: frozenset  # the layers (1-based blocks; 0 = embeddings) this step mixes at; empty: no mixing
    lam_value: float  # λ as a Python number, for logs
    ratio: torch.Tensor | None = None  # SSMix: (B,) share of each example's tokens kept (its label weight)
    clean_loss: torch.Tensor | None = None  # SSMix with clean_loss: CE of the unmixed batch (graph kept)


@runtime_checkable
class MixMethod(Protocol):
    """A mixup method, as amplify/train.py uses it (the module docstring says when each member is called)."""

    name: str  # its name in results and tables; a method of one's own must not take a built-in's
    sites: tuple  # the insertion points it mixes at ("embeddings", "attention", "block", "pooled"; "tokens")
    union: bool  # whether a mixed sequence's mask is the union of both masks (EmbedMix, Manifold Mixup)

    def start_epoch(self, epoch: int) -> None: ...

    def plan(self, batch_size: int, rng, gen: torch.Generator, device) -> Plan: ...

    def prepare(self, model, batch: dict, plan: Plan, amp) -> dict: ...

    def mixer(self, plan: Plan): ...  # a model.packing.Mixer (or any mix callable)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, plan: Plan) -> torch.Tensor: ...

    def describe(self) -> dict: ...


MEMBERS = ("name", "sites", "union", "start_epoch", "plan", "prepare", "mixer", "loss", "describe")
CALLABLE = ("start_epoch", "plan", "prepare", "mixer", "loss", "describe")


def missing_members(cls):
    """The protocol members a class lacks (an attribute absent, or a method that is not callable), in order."""
    return [m for m in MEMBERS if not hasattr(cls, m) or (m in CALLABLE and not callable(getattr(cls, m)))]
