"""
The mixup methods: where each one mixes, how it draws λ, and the loss.

Every method mixes an example with a partner from the same batch, `perm` being one random
permutation of the batch drawn per training step: h <- λ·h + (1-λ)·h[perm]. The model calls a
`mix(site, layer, h, mask)` callable at each insertion point (model/bert.py); a method is a rule
for which (site, layer) it acts on. One forward pass per step, for every method. What a method
receives and returns each step is the protocol of amplify/protocol.py.

    none       no mixing, plain cross-entropy
    embedmix   the embedding output                      Guo et al. 2019, "wordMixup"
    sentmix    the pooled sentence vector                Guo et al. 2019, "senMixup"
    tmix       the output of one block k ∈ {7, 9, 12}    Chen et al. 2020
    manifold   after a layer ∈ {embeddings, 1..L}        Verma et al. 2019
    amplify    after the attention sub-layer of EVERY    Yang & Xiang 2024
               block, one λ and perm shared by all
    mixup-transformer  the last block's [CLS] state,     Sun et al. 2020
               before the pooler; optionally only in
               chosen epochs ("dynamic" mixup)
    ssmix      token ids: the example's least salient    Yoon et al. 2021
               span <- the partner's most salient span
               (one extra forward + backward per step)
    labelsmooth  no mixing; CE with label smoothing ε    the control AMPLIFY's paper never ran

λ for the baselines: l ~ Beta(0.2, 0.2), λ = max(l, 1-l) (paper eq. 9). For AMPLIFY: the largest of
n = 5 draws from Beta(0.1, 0.1) (paper eq. 5). The loss mixes the two labels with the SAME perm:
    loss = λ·CE(logits, y) + (1-λ)·CE(logits, y[perm])      (paper eq. 8)
The baselines' released code pairs the labels with a fresh permutation instead; `label_perm=
"independent"` reproduces that, to measure its effect, and is never the default.

Masks: EmbedMix and Manifold Mixup give the mixed sequence the union of both padding masks (a token
is real if it is real in either sequence); TMix, SentenceMix and AMPLIFY keep each example's own.
Evaluation never mixes (the model ignores `mix` outside training mode).

Every mixing method can be switched on for chosen epochs only (`mix_epochs`, 1-based; Mixup-
Transformer's "dynamic" schedule); in the other epochs a step is plain cross-entropy.

A step whose λ is 1 in float32 (the dtype λ multiplies in) mixes nothing: λ·h + (1-λ)·h[perm] = h and the
loss is CE(y), so for the methods that keep each example's own mask it is a `none` step, and the plan
says so (no layers; the model then skips the partners' padding rows, model/packing.py). AMPLIFY's λ, the
largest of 5 draws, is 1 in float32 on ~37% of steps; the baselines' on ~3%. EmbedMix and Manifold
Mixup are not skipped: their union mask changes what attention sees even at λ = 1. The step's numbers
are the same; on the padding-free path fewer rows draw dropout masks, a different random stream.

Decision (shallower models): TMix's blocks {7, 9, 12} of 12 become round-half-up(k·L/12),
deduplicated, e.g. {4, 5, 6} for MiniLM's 6 blocks. Table 6's single AMPLIFY block (4, 8 or 12)
scales the same way.
"""

import functools

import numpy as np
import torch
import torch.nn.functional as F

from amplify.protocol import Plan
from model.packing import Mixer


def scale_layer(k, n_layers, of=12):
    """Block k of a 12-block model, mapped onto n_layers blocks (round half up, at least 1)."""
    return max(1, int(k * n_layers / of + 0.5))


def mix_pair(h, plan):
    return plan.lam * h + (1 - plan.lam) * h[plan.perm]


def union_mask(mask, perm):
    return torch.maximum(mask, mask[perm])


class Method:
    """Base: no mixing. Subclasses set `sites` and how layers and λ are drawn. It satisfies the method
    protocol (amplify/protocol.py), so a method of one's own may subclass it and change only what differs."""

    name = "none"
    sites = ()  # the insertion points it mixes at ("embeddings", "attention", "block", "pooled")
    union = False  # whether the mixed sequence's mask is the union of both masks
    alpha = 0.2

    @property
    def identity_at_one(self):
        """Whether mixing at λ = 1 changes nothing (each example keeps its own mask): such a step is skipped."""
        return not self.union

    def __init__(self, n_layers, alpha=None, label_perm="same", mix_epochs=None):
        if label_perm not in ("same", "independent"):
            raise ValueError(f"label_perm must be 'same' or 'independent', got {label_perm!r}")
        if mix_epochs is not None and (not self.sites or any(e < 1 for e in mix_epochs)):
            raise ValueError(f"mix_epochs (1-based epoch numbers) applies to mixing methods only; got "
                             f"{list(mix_epochs)} for {self.name}")
        self.n_layers = n_layers
        self.alpha = self.alpha if alpha is None else alpha
        self.label_perm = label_perm
        self.mix_epochs = None if mix_epochs is None else frozenset(mix_epochs)  # None: every epoch
        self.epoch = 1

    def start_epoch(self, epoch):
        """The training loop says which epoch (1-based) begins, for the `mix_epochs` schedule."""
        self.epoch = epoch

    def mixing_now(self):
        return bool(self.sites) and (self.mix_epochs is None or self.epoch in self.mix_epochs)

    def draw_lam(self, rng):
        l = rng.beta(self.alpha, self.alpha)
        return max(l, 1.0 - l)  # eq. 9: the example keeps the larger share

    def draw_layers(self, rng):
        return frozenset()

    def plan(self, batch_size, rng, gen, device):
        """Draw λ, perm and layers for one step. rng: numpy Generator, gen: CPU torch.Generator."""
        if not self.mixing_now():
            lam, layers = 1.0, frozenset()
        else:
            lam, layers = float(self.draw_lam(rng)), self.draw_layers(rng)
        lam_t = torch.tensor(lam)  # float32: the dtype the mix and the loss multiply by
        if self.identity_at_one and lam_t.item() == 1.0:
            layers = frozenset()  # λ·h + 0·h[perm] = h, loss CE(y): a `none` step (module docstring)
        perm = torch.randperm(batch_size, generator=gen)
        label_perm = perm if self.label_perm == "same" else torch.randperm(batch_size, generator=gen)
        return Plan(
            lam=lam_t.to(device),
            perm=perm.to(device, non_blocking=True),
            label_perm=label_perm.to(device, non_blocking=True),
            layers=layers,
            lam_value=lam,
        )

    def prepare(self, model, batch, plan, amp):
        """Called before the step's forward pass; returns the batch to train on. Only SSMix changes it."""
        return batch

    def mixer(self, plan):
        """The callable the model invokes at every insertion point."""
        sites, union = self.sites, self.union

        def mix(at, layer, h, mask):
            if at not in sites or layer not in plan.layers:
                return h, mask
            return mix_pair(h, plan), (union_mask(mask, plan.perm) if union else mask)

        # Where it mixes, for the model to know which padding positions it may skip (model/packing.py,
        # positions_needed): every (site, layer) it acts on this step, the partners, the mask rule.
        return Mixer(mix, mixes=frozenset((s, k) for s in sites for k in plan.layers), perm=plan.perm, union=union)

    def loss(self, logits, labels, plan):
        if not plan.layers:  # `none`, or a mixing method in an epoch outside mix_epochs
            return F.cross_entropy(logits, labels)
        return plan.lam * F.cross_entropy(logits, labels) + (1 - plan.lam) * F.cross_entropy(
            logits, labels[plan.label_perm]
        )

    def describe(self):
        d = {"method": self.name, "sites": list(self.sites), "alpha": self.alpha, "label_perm": self.label_perm}
        if self.mix_epochs is not None:
            d["mix_epochs"] = sorted(self.mix_epochs)
        return d


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


class MixupTransformer(Method):
    """Mixup-Transformer (Sun et al., COLING 2020): mixes the representation that feeds the classifier.

    Here: the last block's [CLS] hidden state, before the pooler (the pooler reads only that row, so
    this is the same as mixing the whole last-block output). SentenceMix mixes after the pooler:
    tanh(W·(λa + (1-λ)b) + c) here, against λ·tanh(W·a + c) + (1-λ)·tanh(W·b + c) there. The paper's
    "dynamic" mixup (on in some epochs only) is `mix_epochs`. Needs pooling="pooler": with a mean over
    tokens the [CLS] row would be one token among many.
    """

    name, sites = "mixup-transformer", ("block",)

    def draw_layers(self, rng):
        return frozenset({self.n_layers})

    def mixer(self, plan):
        last = self.n_layers

        def mix(at, layer, h, mask):
            if at != "block" or layer != last or last not in plan.layers:
                return h, mask
            cls = mix_pair(h[:, :1], plan)  # (B, 1, d): the [CLS] row only
            return torch.cat([cls, h[:, 1:]], dim=1), mask

        # It reads only the [CLS] rows, real in every example: no position beyond the own mask is needed.
        return Mixer(mix, mixes=frozenset(), perm=plan.perm)


def content_segments(mask, types):
    """(offset, length) of each example's text segments, (B,) tensors each, for the layout
    [CLS] a [SEP] (b [SEP]) with token types 0 for [CLS] a [SEP] and 1 for b [SEP] (model/tokenizer.py).
    A single sentence's second segment has length 0. [CLS] and [SEP] are never inside a segment."""
    real = mask.bool()
    n0 = (real & (types == 0)).sum(1)
    n1 = (real & (types == 1)).sum(1)
    return [(torch.ones_like(n0), (n0 - 2).clamp(min=0)), (n0, (n1 - 1).clamp(min=0))]


def window_sums(sal, n):
    """sal (B, T), n (B,): out[i, s] = sal[i, s : s + n[i]].sum() (windows past the end are cut short)."""
    B, T = sal.shape
    cs = F.pad(sal.double().cumsum(1), (1, 0))  # (B, T+1), cs[:, k] = sum of the first k
    end = (torch.arange(T, device=sal.device) + n[:, None]).clamp(max=T)  # (B, T)
    return cs.gather(1, end) - cs[:, :T]


def span_mix(ids, mask, types, saliency, perm, lam):
    """SSMix's token mixing. In each segment of example i (length L) a span of n = round((1-λ)·L) tokens
    (at most the partner's segment length) is replaced: the example's least salient span of n tokens gets
    the partner's (perm[i]) most salient span of n tokens of the same segment. Saliency of a span = the sum
    of its tokens' saliency. Returns (mixed ids (B, T), r (B,) = 1 - replaced / (L_a + L_b), and the spans
    [(start in the example, start in the partner, n)] per segment, for inspection)."""
    B, T = ids.shape
    pos = torch.arange(T, device=ids.device)[None, :]  # (1, T)
    segs = content_segments(mask, types)
    partner_ids, partner_sal = ids[perm], saliency[perm]
    out, replaced, total, spans = ids.clone(), torch.zeros_like(segs[0][1]), torch.zeros_like(segs[0][1]), []
    for off, L in segs:
        off_p, L_p = off[perm], L[perm]
        n = torch.minimum(torch.floor((1.0 - lam) * L.double() + 0.5).long(), L_p)  # (B,)
        ok = (pos >= off[:, None]) & (pos + n[:, None] <= (off + L)[:, None])
        s = window_sums(saliency, n).masked_fill(~ok, float("inf")).argmin(1)  # least salient, own
        ok_p = (pos >= off_p[:, None]) & (pos + n[:, None] <= (off_p + L_p)[:, None])
        t = window_sums(partner_sal, n).masked_fill(~ok_p, float("-inf")).argmax(1)  # most salient, partner
        inside = (pos >= s[:, None]) & (pos < (s + n)[:, None])  # (B, T)
        src = (pos - s[:, None] + t[:, None]).clamp(0, T - 1)
        out = torch.where(inside, partner_ids.gather(1, src), out)
        replaced, total = replaced + n, total + L
        spans.append((s, t, n))
    ratio = 1.0 - replaced.double() / total.clamp(min=1).double()
    return out, ratio.float(), spans


def token_saliency(model, batch, amp, keep_graph=False):
    """SSMix's saliency: ||d CE(unmixed batch) / d(embedding output)||_2 per token, (B, T), from one
    forward and one backward that reaches the embeddings only (no parameter gradients are made).
    Returns (saliency, the CE loss). keep_graph keeps the graph, for adding the clean loss to the step."""
    captured = {}

    def capture(at, layer, h, mask):
        if at == "embeddings":
            captured["h"] = h  # (B, T, d) the embedding output, as in the reference code
        return h, mask

    watch = Mixer(capture, mixes=frozenset())  # it mixes nowhere: the model may skip padding rows (model/packing.py)
    with amp():
        logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=watch)
    loss = F.cross_entropy(logits.float(), batch["labels"])
    (grad,) = torch.autograd.grad(loss, captured["h"], retain_graph=keep_graph)
    return grad.float().norm(dim=-1), loss


class SSMix(Method):
    """SSMix (Yoon et al., ACL 2021): saliency-guided span mixing on token ids, before the embeddings.

    Each step: (1) a forward + backward on the unmixed batch gives each token's saliency (token_saliency);
    (2) span_mix replaces the example's least salient span by its partner's most salient span of the same
    length, n = round((1-λ)·L) per segment, with the baselines' λ, so λ = 1 mixes nothing; (3) the mixed
    ids go through the model's ordinary path; loss = mean over examples of r·CE(y) + (1-r)·CE(y[perm]), r =
    the share of the example's tokens kept. Masks and token types are the example's own (lengths do not
    change). Not a single-pass method: it costs an extra forward and a partial backward per step, except on
steps whose λ is so close to 1 that no example of the batch replaces a token (round((1-λ)·L) = 0 for the
longest L), which skip the saliency pass: on short texts such as TREC that is about half the steps.

    Differences from the reference code (clovaai/ssmix): one `perm` per step, like every method here (the
    reference splits the batch in halves and mixes both ways); the span length follows λ (the reference
    uses a fixed share of the length, e.g. 10%, and always at least one token); span saliency is the sum
    of token L2 norms (the reference averages per-token RMS values over the window, normalised per
    example: the same ranking); spans are capped by the partner's segment length (the reference skips
    the example instead). Loss: by default the mixed loss alone, as for every method here, so that the
    comparison is of the mixing; clean_loss=True is the reference's mean of the clean and the mixed loss,
    ½·(CE(unmixed) + mixed loss), reusing the saliency pass's forward (its graph is kept and backpropagated).
    Sentence pairs (MRPC): the saliency is taken from one pass over the pair, the input the classifier is
    trained on, and a span is then mixed in each segment. The reference code instead runs the model on each
    sentence alone for that sentence's saliency, an input the pair classifier never sees (docs/methods.md).
    """

    name, sites = "ssmix", ("tokens",)  # "tokens": before the embeddings, done in prepare(); no model site

    def __init__(self, n_layers, clean_loss=False, **kw):
        super().__init__(n_layers, **kw)
        self.clean_loss = clean_loss

    def draw_layers(self, rng):
        return frozenset({0})

    @property
    def identity_at_one(self):
        return False  # prepare() has its own rule (no token replaced); with clean_loss λ = 1 still costs a pass

    def prepare(self, model, batch, plan, amp):
        if not plan.layers:
            return batch
        longest = batch["input_ids"].shape[1] - 2  # no segment is longer: a bound known on the host, no sync
        if not self.clean_loss and int((1.0 - plan.lam_value) * longest + 0.5) == 0:
            return batch  # λ so close to 1 that no example replaces a token: skip the saliency pass (r = 1)
        saliency, clean = token_saliency(model, batch, amp, keep_graph=self.clean_loss)
        ids, plan.ratio, _ = span_mix(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                                      saliency, plan.perm, plan.lam_value)
        plan.clean_loss = clean if self.clean_loss else None
        return {**batch, "input_ids": ids}

    def loss(self, logits, labels, plan):
        if plan.ratio is None:  # an epoch outside mix_epochs
            return F.cross_entropy(logits, labels)
        r = plan.ratio
        mixed = (r * F.cross_entropy(logits, labels, reduction="none")
                 + (1 - r) * F.cross_entropy(logits, labels[plan.label_perm], reduction="none")).mean()
        return mixed if plan.clean_loss is None else 0.5 * (plan.clean_loss + mixed)

    def describe(self):
        return {**super().describe(), "clean_loss": self.clean_loss}


@functools.lru_cache
def amplify_mean_one_minus_lam(n_draws=5, alpha=Amplify.alpha):
    """E[1 - λ] for AMPLIFY's λ = max of n_draws Beta(α, α) draws, by numerical integration.

    For λ in [0, 1], E[λ] = ∫0^1 P(λ > x) dx, so E[1 - λ] = ∫0^1 P(λ <= x) dx = ∫0^1 F(x)^n dx, F the
    Beta(α, α) CDF (the max of n independent draws is <= x when all are). n = 5, α = 0.1: 0.0384249
    (scipy.integrate.quad, error estimate < 1e-13; a Monte Carlo of 4,000,000 λ gives 0.03853 ± 0.00007).
    """
    from scipy import integrate, stats

    F = stats.beta(alpha, alpha).cdf
    value, _ = integrate.quad(lambda x: F(x) ** n_draws, 0.0, 1.0, limit=200, epsabs=1e-13)
    return value


class LabelSmooth(Method):
    """The control: no mixing, cross-entropy with label smoothing ε (target (1-ε)·onehot + ε/C).

    Default ε = E[1 - λ] of AMPLIFY's λ (0.0384): AMPLIFY's loss gives the partner's label weight 1 - λ,
    0.0384 on average (which stays on the true class when the partner shares it). Here the target is
    (1-ε)·onehot + ε/C, torch's label smoothing: the true class keeps ε/C of the ε, so the mass moved off
    it is ε(C-1)/C (0.0192 for C = 2, 0.0376 for C = 50), spread evenly over the other classes. The
    control asks how much of AMPLIFY's effect a soft label alone gives.
    """

    name = "labelsmooth"

    def __init__(self, n_layers, label_smoothing=None, **kw):
        super().__init__(n_layers, **kw)
        eps = amplify_mean_one_minus_lam() if label_smoothing is None else float(label_smoothing)
        if not 0.0 <= eps < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {eps}")
        self.label_smoothing = eps

    def loss(self, logits, labels, plan):
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    def describe(self):
        return {**super().describe(), "label_smoothing": self.label_smoothing}


METHODS = {m.name: m for m in (Method, EmbedMix, SentMix, TMix, Manifold, Amplify, MixupTransformer, SSMix,
                               LabelSmooth)}


def make_method(name, n_layers, alpha=None, label_perm="same", n_draws=5, amplify_layers=None, mix_epochs=None,
                ssmix_clean_loss=False, label_smoothing=None, method_options=None):
    """A built-in method by name, or a user's class by "path/to/file.py:Class" / "package.module:Class"
    (amplify/user_methods.py), built with the options its run gives it."""
    from amplify.user_methods import is_spec, load_class  # it imports this module: a lazy import, no circle

    if is_spec(name):
        return load_class(name)(n_layers, alpha=alpha, label_perm=label_perm, mix_epochs=mix_epochs,
                                **(method_options or {}))
    if method_options:
        raise ValueError(f"method options {method_options} are for a method of one's own, not {name}")
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    kw = dict(alpha=alpha, label_perm=label_perm, mix_epochs=mix_epochs)
    if name == "amplify":
        kw.update(n_draws=n_draws, layers=amplify_layers)
    if name == "ssmix":
        kw.update(clean_loss=ssmix_clean_loss)
    if name == "labelsmooth":
        kw.update(label_smoothing=label_smoothing)
    return METHODS[name](n_layers, **kw)


def seeded_generators(seed):
    """The mixing draws' own RNGs, so that λ/perm are reproducible whatever else consumes randomness."""
    return np.random.default_rng(seed), torch.Generator().manual_seed(seed)
