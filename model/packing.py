"""
Padding-free computation: which positions of a padded batch a forward pass computes, and the moves between
the padded (B, T, d) layout and the packed (N, d) one. model/bert.py's blocks take their rows from here.

Real batches are short and unevenly long: in random TREC-fine batches about half of all positions are
padding. Most of a block's work is position-wise (every linear layer, LayerNorm, GELU, dropout: most of
the FLOPs), so on CPU it runs only on the positions whose values the pass reads later, packed into
(N, d); attention and the mix callables see the padded (B, T, d) layout. Which positions:
`positions_needed`, walking the network backwards from what the head reads. A `Mixer` (below: the mix
callable with where it mixes, the partners and the mask rule declared; amplify/protocol.py) gets this;
any other callable gets the plain padded computation.

Only what the head reads: a classifier on the pooler reads the last block at [CLS] only, so there the
last block computes k and v at every real position (its attention reads all keys), and the query, the
attention itself and everything after it (output projection, LayerNorm, feed-forward: most of the
block) at [CLS] only (`BertModel.forward`'s `cls_only`). Every mix is position-wise, so the rows a mix
there needs are the partners' [CLS] rows: [CLS] still. This holds with padding or without: on CPU a
batch without padding takes the same packed path, its other blocks at every row. A mix callable that
reads every token's values (a watcher: `Mixer(..., reads_every_token=True)`) turns this off, so what it
reads is computed.

tests/test_padding_free.py proves logits, loss and gradients equal to the padded computation for every
method, with and without padding.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch


@dataclass(eq=False)
class Mixer:
    """A training step's mix callable, `mix(site, layer, h, mask) -> (h, mask)` (model/bert.py), with what the
    padding-free path reads about it declared. A plain function is a valid mix too: it gets the padded
    computation, every position of every block, whatever it does."""

    fn: Callable  # (site, layer, h, mask) -> (h, mask)
    mixes: frozenset | None  # the (site, layer) pairs it changes h at this step; empty: nowhere; None: unsaid
    perm: torch.Tensor | None = None  # (B,) the partners h[perm] it mixes in, when it mixes anywhere
    union: bool = False  # whether a mix gives the mixed sequence the union of both padding masks
    reads_every_token: bool = False  # a watcher reading every token's values: no [CLS]-only last block

    def __call__(self, site, layer, h, mask):
        return self.fn(site, layer, h, mask)

    def around(self, fn, **changes):
        """The same declarations for another callable, e.g. a spy that calls this mixer and looks."""
        return replace(self, fn=fn, **changes)


class Rows:
    """The positions of a padded (B, T, d) batch that a step computes, and the moves between layouts:
    pack (B, T, d) -> (N, d), the N chosen rows; unpack (N, d) -> (B, T, d), zeros elsewhere.
    When every position is chosen both are reshapes (no copy)."""

    def __init__(self, keep):
        self.keep = keep  # (B, T) bool
        self.B, self.T = keep.shape
        self.all = bool(keep.all())
        self.idx = None if self.all else keep.reshape(-1).nonzero().squeeze(1)  # (N,) flat positions b*T + t
        # every example's [CLS] and nothing else (what the head reads through the pooler): packed, (B, d)
        self.cls = not self.all and bool(keep[:, 0].all()) and not bool(keep[:, 1:].any())

    def pack(self, h):
        h = h.reshape(self.B * self.T, -1)
        return h if self.all else h.index_select(0, self.idx)  # (N, d)

    def unpack(self, x):
        if self.all:
            return x.view(self.B, self.T, -1)
        out = x.new_zeros(self.B * self.T, x.shape[-1])
        return out.index_copy(0, self.idx, x).view(self.B, self.T, -1)  # (B, T, d)


def positions_needed(mask, mix, n_layers, cls_only=False):
    """For each block l = 1..L: (the rows whose q, k, v it computes, the rows whose attention output it
    computes, the rows its feed-forward sub-layer computes), as (B, T) bool masks; None when `mix` is not
    a `Mixer` that says where it mixes.

    Walk the network backwards from what the head reads: [CLS] only (`cls_only`: the pooler), else the
    final mask's real positions (for a union-mask method the final mask is the union). Position-wise
    work needs a position's own input only; attention at a row needs that row's query and the keys and
    values of every real position of the mask in use (masks only grow, by union, so the final mask's real
    positions cover them). Below the last block the rows include those already, so the three sets differ
    only in the last block under `cls_only`. A mix h[i] <- λ·h[i] + (1-λ)·h[perm[i]] reads, for each
    row example i needs after it, the same row of i and of its partner perm[i]; so before the mix,
    example k needs its own rows and those of whoever takes k as partner: P | P[perm^-1]. This is
    exact, not conservative: a partner's padding rows are well defined (a padding query attends to the
    real keys), and they are computed exactly when someone mixes them in. For AMPLIFY, which mixes in
    every block, the rows an example needs in block l grow along the permutation's cycle with the
    number of mixes still to come: every block computes a little more than the one after it.
    """
    if not isinstance(mix, Mixer) or mix.mixes is None:
        return None
    sites = mix.mixes
    cls_only = cls_only and not mix.reads_every_token
    M = mask.bool()  # (B, T)
    if sites:
        perm = mix.perm
        if mix.union:
            M = M | M[perm]
        inv = torch.argsort(perm)
    P = M
    if cls_only:
        P = torch.zeros_like(M)
        P[:, 0] = True
    out = []
    for layer in range(n_layers, 0, -1):
        if ("block", layer) in sites:
            P = P | P[inv]
        ffn = P
        if ("attention", layer) in sites:
            P = P | P[inv]
        attn_out = P
        P = P | M  # the attention's keys and values
        out.append((P, attn_out, ffn))
    return out[::-1]
