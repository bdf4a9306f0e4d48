"""
The mixup methods: where each one mixes, how it draws λ, and the loss.

Every method mixes an example with a partner from the same batch, `perm` being one random
permutation of the batch drawn per training step: h <- λ·h + (1-λ)·h[perm]. The model calls a
`mix(site, layer, h, mask)` callable at each insertion point (model/bert.py); a method is a rule
for which (site, layer) it acts on. One forward pass per step, for every method.

    none       no mixing, plain cross-entropy
    embedmix   the embedding output                      Guo et al. 2019, "wordMixup"
    sentmix    the pooled sentence vector                Guo et al. 2019, "senMixup"
    tmix       the output of one block k ∈ {7, 9, 12}    Chen et al. 2020
    manifold   after a layer ∈ {embeddings, 1..L}        Verma et al. 2019
    amplify    after the attention sub-layer of EVERY    Yang & Xiang 2024
               block, one λ and perm shared by all

λ for the baselines: l ~ Beta(0.2, 0.2), λ = max(l, 1-l) (paper eq. 9). For AMPLIFY: the largest of
n = 5 draws from Beta(0.1, 0.1) (paper eq. 5). The loss mixes the two labels with the SAME perm:
    loss = λ·CE(logits, y) + (1-λ)·CE(logits, y[perm])      (paper eq. 8)
The baselines' released code pairs the labels with a fresh permutation instead; `label_perm=
"independent"` reproduces that, to measure its effect, and is never the default.

Masks: EmbedMix and Manifold Mixup give the mixed sequence the union of both padding masks (a token
is real if it is real in either sequence); TMix, SentenceMix and AMPLIFY keep each example's own.
Evaluation never mixes (the model ignores `mix` outside training mode).

Decision (shallower models): TMix's blocks {7, 9, 12} of 12 become round-half-up(k·L/12),
deduplicated, e.g. {4, 5, 6} for MiniLM's 6 blocks. Table 6's single AMPLIFY block (4, 8 or 12)
scales the same way.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class Plan:
    """One training step's draw: the mixing weight, the partners, and where to mix."""

    lam: torch.Tensor  # 0-d float tensor on the model's device (a tensor, so compiled graphs reuse it)
    perm: torch.Tensor  # (B,) long, partner of each example
    label_perm: torch.Tensor  # (B,) the partners whose labels enter the loss (== perm by default)
    layers: frozenset  # the layers (1-based blocks; 0 = embeddings) this step mixes at
    lam_value: float  # λ as a Python number, for logs


def scale_layer(k, n_layers, of=12):
    """Block k of a 12-block model, mapped onto n_layers blocks (round half up, at least 1)."""
    return max(1, int(k * n_layers / of + 0.5))


def mix_pair(h, plan):
    return plan.lam * h + (1 - plan.lam) * h[plan.perm]


def union_mask(mask, perm):
    return torch.maximum(mask, mask[perm])


class Method:
    """Base: no mixing. Subclasses set `site` and how layers and λ are drawn."""

    name = "none"
    sites = ()  # the insertion points it mixes at ("embeddings", "attention", "block", "pooled")
    union = False  # whether the mixed sequence's mask is the union of both masks
    alpha = 0.2

    def __init__(self, n_layers, alpha=None, label_perm="same"):
        if label_perm not in ("same", "independent"):
            raise ValueError(f"label_perm must be 'same' or 'independent', got {label_perm!r}")
        self.n_layers = n_layers
        self.alpha = self.alpha if alpha is None else alpha
        self.label_perm = label_perm

    def draw_lam(self, rng):
        l = rng.beta(self.alpha, self.alpha)
        return max(l, 1.0 - l)  # eq. 9: the example keeps the larger share

    def draw_layers(self, rng):
        return frozenset()

    def plan(self, batch_size, rng, gen, device):
        """Draw λ, perm and layers for one step. rng: numpy Generator, gen: CPU torch.Generator."""
        if not self.sites:
            lam, layers = 1.0, frozenset()
        else:
            lam, layers = float(self.draw_lam(rng)), self.draw_layers(rng)
        perm = torch.randperm(batch_size, generator=gen)
        label_perm = perm if self.label_perm == "same" else torch.randperm(batch_size, generator=gen)
        return Plan(
            lam=torch.tensor(lam, device=device),
            perm=perm.to(device, non_blocking=True),
            label_perm=label_perm.to(device, non_blocking=True),
            layers=layers,
            lam_value=lam,
        )

    def mixer(self, plan):
        """The callable the model invokes at every insertion point."""
        sites, union = self.sites, self.union

        def mix(at, layer, h, mask):
            if at not in sites or layer not in plan.layers:
                return h, mask
            return mix_pair(h, plan), (union_mask(mask, plan.perm) if union else mask)

        return mix

    def loss(self, logits, labels, plan):
        if not self.sites:
            return F.cross_entropy(logits, labels)
        return plan.lam * F.cross_entropy(logits, labels) + (1 - plan.lam) * F.cross_entropy(
            logits, labels[plan.label_perm]
        )

    def describe(self):
        return {"method": self.name, "sites": list(self.sites), "alpha": self.alpha, "label_perm": self.label_perm}


class EmbedMix(Method):
    name, sites, union = "embedmix", ("embeddings",), True

    def draw_layers(self, rng):
        return frozenset({0})


class SentMix(Method):
    name, sites = "sentmix", ("pooled",)

    def draw_layers(self, rng):
        return frozenset({0})


class TMix(Method):
    name, sites = "tmix", ("block",)
    paper_layers = (7, 9, 12)  # of 12 blocks (Chen et al. 2020's best set)

    def __init__(self, n_layers, **kw):
        super().__init__(n_layers, **kw)
        self.layers = sorted({scale_layer(k, n_layers) for k in self.paper_layers})

    def draw_layers(self, rng):
        return frozenset({int(rng.choice(self.layers))})

    def describe(self):
        return {**super().describe(), "layers": self.layers}


class Manifold(Method):
    """Mixes after one layer drawn uniformly from {embeddings (layer 0), block 1..L}."""

    name, sites, union = "manifold", ("embeddings", "block"), True

    def draw_layers(self, rng):
        return frozenset({int(rng.integers(0, self.n_layers + 1))})


class Amplify(Method):
    """Mixes the attention output of every block (or of `layers` only), one λ and perm for all."""

    name, sites = "amplify", ("attention",)
    alpha = 0.1

    def __init__(self, n_layers, n_draws=5, layers=None, **kw):
        super().__init__(n_layers, **kw)
        if n_draws < 1:
            raise ValueError(f"n_draws must be >= 1, got {n_draws}")
        self.n_draws = n_draws
        layers = range(1, n_layers + 1) if layers is None else layers
        bad = [k for k in layers if not 1 <= k <= n_layers]
        if bad:
            raise ValueError(f"AMPLIFY blocks {bad} outside 1..{n_layers}")
        self.blocks = frozenset(layers)

    def draw_lam(self, rng):
        return rng.beta(self.alpha, self.alpha, size=self.n_draws).max()  # eq. 5

    def draw_layers(self, rng):
        return self.blocks

    def describe(self):
        return {**super().describe(), "n_draws": self.n_draws, "layers": sorted(self.blocks)}


METHODS = {m.name: m for m in (Method, EmbedMix, SentMix, TMix, Manifold, Amplify)}


def make_method(name, n_layers, alpha=None, label_perm="same", n_draws=5, amplify_layers=None):
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    kw = dict(alpha=alpha, label_perm=label_perm)
    if name == "amplify":
        kw.update(n_draws=n_draws, layers=amplify_layers)
    return METHODS[name](n_layers, **kw)


def seeded_generators(seed):
    """The mixing draws' own RNGs, so that λ/perm are reproducible whatever else consumes randomness."""
    return np.random.default_rng(seed), torch.Generator().manual_seed(seed)
