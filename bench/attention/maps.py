"""
One block's attention probabilities for one input, one panel per mixing method (the AMPLIFY paper's
Figures 5-7, block 4 after AMPLIFY vs EmbedMix):

    python -m bench.attention "the rabbit quickly hopped" "the turtle slowly crawled" --block 4 \\
        --methods none amplify embedmix [--weights DIR] [--out DIR]

The input is one sentence, or a pair (two texts). Each method's panel is the forward pass with that
method's mixing applied at a fixed λ (--lam) with a partner (--partner; for a pair input the default
partner is the same pair swapped, so the two sentences mix with each other): the batch is [input,
partner], perm = [1, 0], exactly the `mix` callable training uses (amplify/methods.py), with dropout off
so the picture is deterministic. Where a method mixes at a drawn layer (tmix, manifold) it mixes at
--mix-layer (default: tmix's first block, manifold's embeddings). A method that mixes only after the
block (tmix at a later block, sentmix, mixup-transformer) leaves the picture equal to `none`'s; and
with λ = 1 nothing mixes. ssmix is not offered: its spans follow a loss gradient, which needs a label.

The probabilities are the model's own: block k's attention keeps softmax(QKᵀ/√d_head + padding bias)
when asked (model/bert.py, `keep_probs`; tests/test_attention_probs.py checks it by hand). Rows are
queries, columns keys, both labelled with the input's tokens; a union-mask method (embedmix, manifold)
also shows the partner's extra positions, labelled "+token".

Weights: the backbone (--model, default minilm-l6), or --weights DIR: any directory with config.json,
vocab.txt and model.safetensors in Hugging Face's layout (a fine-tuned model saved with --save-model,
bert-base-uncased, distilbert-base-uncased ...). The classifier head does not enter the picture.

Output in --out (default results/attention): attention-blockK.csv (every method, head and the head
mean: method, head, query, query_token, key, key_token, prob); with matplotlib (an optional extra:
pip install -r requirements-plots.txt) attention-blockK.png (head means, one panel per method) and
attention-blockK-METHOD.png (every head and their mean).
"""

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
import torch

from amplify.cli import ArgumentParser, check_out_dir, fail
from amplify.methods import METHODS, Plan, make_method
from amplify.results import lost_write, write_text_or_fallback
from bench.report.plots import INSTALL, figure_class, save_png
from model.bert import BertSelfAttention, Dropout
from model.packing import Mixer
from model.registry import MODELS, ModelNotFound, build

CHOICES = tuple(m for m in METHODS if m != "ssmix")  # ssmix needs a label for its saliency
DEFAULT_LAM = 0.7


def load(model="minilm-l6", weights=None, max_length=128):
    """(model, tokenizer) ready to be looked into: training mode (the model mixes only then), dropout off."""
    net, tok, _ = build(model, num_labels=2, weights=weights, max_length=max_length)
    return without_dropout(net), tok


def without_dropout(model):
    for m in model.modules():
        if isinstance(m, Dropout):
            m.p = 0.0
        if isinstance(m, BertSelfAttention):
            m.dropout_p = 0.0
    return model.train()


def fixed_plan(method, perm, lam, mix_layer=None):
    """The step's draw, fixed: λ, the partners, and where to mix (see the module docstring)."""
    if method.name == "tmix":
        layers = frozenset({mix_layer if mix_layer is not None else min(method.layers)})
    elif method.name == "manifold":
        layers = frozenset({mix_layer if mix_layer is not None else 0})
    else:
        layers = method.draw_layers(np.random.default_rng(0))  # deterministic for every other method
    lam = float(lam) if layers else 1.0
    return Plan(lam=torch.tensor(lam), perm=perm, label_perm=perm, layers=layers, lam_value=lam)


def where(method, plan):
    if not plan.layers:
        return "no mixing"
    sites = "/".join(method.sites)
    layers = sorted(plan.layers)
    span = f"{layers[0]}-{layers[-1]}" if len(layers) > 2 and layers == list(range(layers[0], layers[-1] + 1)) \
        else ",".join(map(str, layers))
    return f"mixes at {sites} {span}, λ={plan.lam_value:g}"


def batch_of(tok, texts, pairs=None):
    ids, types = tok.encode_batch(texts, pairs)
    T = max(map(len, ids))
    return {"input_ids": torch.tensor([x + [tok.pad_id] * (T - len(x)) for x in ids]),
            "token_type_ids": torch.tensor([x + [0] * (T - len(x)) for x in types]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in ids])}


def watching(mix, watch):
    """`mix`, calling watch(site, layer, h_after, mask_before, mask_after) at every insertion point. It says
    where it mixes as `mix` does, so the model's padding-free path stays what training runs, and that it
    reads every token, so the last block is computed at every real position, not at [CLS] only."""

    def spy(at, layer, h, mask):
        h2, mask2 = mix(at, layer, h, mask)
        watch(at, layer, h2, mask, mask2)
        return h2, mask2

    return mix.around(spy, reads_every_token=True) if isinstance(mix, Mixer) else spy


@torch.no_grad()
def block_attention(model, batch, mix, block):
    """Block `block`'s attention probabilities (B, nh, T, T) under `mix`, and the mask they used (B, T)."""
    att = model.bert.encoder.layer[block - 1].attention.self
    seen = {}

    def watch(at, layer, h, mask_before, mask_after):
        if (at, layer) == ("attention", block):
            seen["mask"] = mask_before  # the mask this block's attention ran with

    att.keep_probs = True
    try:
        model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=watching(mix, watch))
        probs = att.probs
    finally:
        att.keep_probs, att.probs = False, None
    return probs, seen["mask"]


def attention_maps(model, tok, texts, partner, block, methods, lam=DEFAULT_LAM, mix_layer=None):
    """For each method: (probs (nh, n, n) of the input's n positions, token labels, a caption)."""
    L = model.config.num_hidden_layers
    if not 1 <= block <= L:
        raise ValueError(f"--block {block}: the model has blocks 1..{L}")
    if mix_layer is not None and not 0 <= mix_layer <= L:
        raise ValueError(f"--mix-layer {mix_layer}: the model mixes at 0 (the embeddings) .. {L} (its last block)")
    empty = [t for t in (*texts, *partner) if not t.strip()]
    if empty:
        raise ValueError("an input or partner text is empty: give each some words")
    pair = len(texts) == 2
    if len(partner) != len(texts):
        raise ValueError(f"the partner must have as many texts as the input ({len(texts)}), got {len(partner)}")
    batch = batch_of(tok, [texts[0], partner[0]], [texts[1], partner[1]] if pair else None)
    vocab = {i: t for t, i in tok.vocab.items()}
    own = [vocab[int(i)] for i, m in zip(batch["input_ids"][0], batch["attention_mask"][0], strict=True) if m]
    other = [vocab[int(i)] for i in batch["input_ids"][1]]
    perm = torch.tensor([1, 0])
    out = {}
    for name in methods:
        method = make_method(name, L)
        plan = fixed_plan(method, perm, lam, mix_layer)
        probs, mask = block_attention(model, batch, method.mixer(plan), block)
        n = int(mask[0].sum())  # real positions are a prefix; a union mask adds the partner's longer tail
        labels = own + [f"+{t}" for t in other[len(own):n]]
        out[name] = (probs[0, :, :n, :n].numpy(), labels, where(method, plan))
    return out


def maps_csv(maps):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "head", "query", "query_token", "key", "key_token", "prob"])
    for name, (probs, labels, _) in maps.items():
        for head, p in [*enumerate(probs), ("mean", probs.mean(0))]:
            for q, kq in enumerate(labels):
                for k, kk in enumerate(labels):
                    w.writerow([name, head, q, kq, k, kk, f"{p[q, k]:.6g}"])
    return buf.getvalue()


def _heatmap(ax, p, labels, title, vmax):
    from matplotlib.colors import PowerNorm

    # square-root colour scale: [CLS] and [SEP] columns take most of the mass, and would hide the rest
    image = ax.imshow(p, cmap="viridis", norm=PowerNorm(0.5, vmin=0.0, vmax=vmax), interpolation="nearest")
    n = len(labels)
    size = 8 if n <= 16 else 6 if n <= 32 else 4
    ax.set_xticks(range(n), labels, rotation=90, fontsize=size)
    ax.set_yticks(range(n), labels, fontsize=size)
    ax.set_xlabel("key", fontsize=8)
    ax.set_ylabel("query", fontsize=8)
    ax.set_title(title, fontsize=9)
    return image


def plot_means(Figure, maps, block, caption):
    k = len(maps)
    fig = Figure(figsize=(0.6 + 4.4 * k, 5.4), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    vmax = max(float(p.mean(0).max()) for p, _, _ in maps.values())
    image = None
    for ax, (name, (probs, labels, how)) in zip(axes, maps.items(), strict=True):
        image = _heatmap(ax, probs.mean(0), labels, f"{name}\n({how})", vmax)
    fig.colorbar(image, ax=list(axes), label="attention probability (mean over heads; square-root scale)", shrink=0.8)
    fig.suptitle(f"Block {block} attention, mean over heads\n{caption}", fontsize=10)
    return fig


def plot_heads(Figure, name, probs, labels, how, block, caption):
    panels = [*((f"head {h + 1}", p) for h, p in enumerate(probs)), ("mean over heads", probs.mean(0))]
    cols = min(5, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(0.8 + 3.3 * cols, 1.0 + 3.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    vmax = float(probs.max())
    image = None
    for ax, (title, p) in zip(axes, panels, strict=False):
        image = _heatmap(ax, p, labels, title, vmax)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    fig.colorbar(image, ax=list(axes), label="attention probability (square-root scale)", shrink=0.6)
    fig.suptitle(f"{name}: block {block} attention per head ({how})\n{caption}", fontsize=10)
    return fig


def write(maps, out, block, caption):
    """Write the CSV and, with matplotlib, the PNGs. Returns the paths written and a note."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"attention-block{block}.csv"
    path, error = write_text_or_fallback(target, maps_csv(maps))
    if error is not None:  # disk full, permissions: the numbers are kept elsewhere, and the user told where
        print(f"bench.attention: {lost_write(target, error, path)}", file=sys.stderr)
    written = [path]
    Figure = figure_class()
    if Figure is None:
        return written, f"matplotlib is not installed: no PNGs; {INSTALL}"
    path = out / f"attention-block{block}.png"
    save_png(plot_means(Figure, maps, block, caption), path)
    written.append(path)
    for name, (probs, labels, how) in maps.items():
        path = out / f"attention-block{block}-{name}.png"
        save_png(plot_heads(Figure, name, probs, labels, how, block, caption), path)
        written.append(path)
    return written, None


def main(argv=None):
    p = ArgumentParser(
        prog="python -m bench.attention",
        description="One block's attention probabilities for one input (a sentence or a pair), one panel per "
                    "method, each method's mixing applied at a fixed λ with a partner (paper Figures 5-7).",
        epilog="\n\n".join(__doc__.split("\n\n")[1:3]), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="+", metavar="TEXT", help="the input: one sentence, or two for a pair")
    p.add_argument("--partner", nargs="+", metavar="TEXT", default=None,
                   help="the partner it mixes with, as many texts as the input (default for a pair: the pair swapped)")
    p.add_argument("--block", type=int, default=4, help="1-based block to show (%(default)s)")
    p.add_argument("--methods", nargs="+", default=["none", "amplify", "embedmix"], choices=CHOICES, metavar="M",
                   help=f"one panel each (default: %(default)s); from {', '.join(CHOICES)}")
    p.add_argument("--lam", type=float, default=DEFAULT_LAM, help="the fixed λ: input share of the mix (%(default)s)")
    p.add_argument("--mix-layer", type=int, default=None,
                   help="where tmix / manifold mix (default: tmix's first block, manifold's embeddings)")
    p.add_argument("--model", default="minilm-l6", choices=MODELS, help="backbone (%(default)s)")
    p.add_argument("--weights", default=None, help="a model directory (config.json, vocab.txt, model.safetensors)")
    p.add_argument("--out", default="results/attention", help="output directory (%(default)s)")
    args = p.parse_args(argv)
    if len(args.texts) > 2:
        p.error(f"the input is one sentence or a pair, got {len(args.texts)} texts")
    partner = args.partner or (args.texts[::-1] if len(args.texts) == 2 else None)
    if partner is None:
        p.error("a single sentence needs --partner TEXT to mix with")
    if not 0.0 <= args.lam <= 1.0:
        p.error(f"--lam must be in [0, 1], got {args.lam}")
    if any(not t.strip() for t in (*args.texts, *partner)):
        fail(p.prog, "an input or --partner text is empty: give each some words")
    check_out_dir(p.prog, "--out", args.out)
    try:
        model, tok = load(args.model, args.weights)
        maps = attention_maps(model, tok, args.texts, partner, args.block, args.methods, args.lam, args.mix_layer)
    except (ValueError, ModelNotFound, OSError) as e:
        fail(p.prog, e)
    shown = " / ".join(args.texts)
    caption = f"input: {shown!r}; partner: {' / '.join(partner)!r}; {args.weights or args.model}"
    written, note = write(maps, args.out, args.block, caption)
    print("wrote " + ", ".join(map(str, written)))
    if note:
        print(note, file=sys.stderr)
    return 0
