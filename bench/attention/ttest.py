"""
The AMPLIFY paper's Figure 3, here: per dataset, p-values of t-tests between methods' attention outputs,
block by block, as a heatmap.

    python -m bench.attention.ttest --dataset trec-coarse sst-2 --methods none amplify embedmix
    python -m bench.attention.ttest --dataset trec-coarse --saved none=DIR amplify=DIR embedmix=DIR

What is compared. For each of N test examples (--limit, a fixed random subset) and each block l, one
number: the output of block l's attention sub-layer (after output projection, dropout, residual and
LayerNorm: the tensor AMPLIFY mixes, taken after the method's mix), averaged over the example's real
tokens, then the root mean square of that vector over the hidden units (its length / sqrt(H)). Not the plain
mean over hidden units: a LayerNorm output's mean over its units is fixed by LayerNorm's weights (exactly
mean(bias) when the scale is uniform, as in a freshly initialised model), the same for every example and
method. For two methods A and B and a block l, Welch's unequal-variance t-test
(two-sided; bench/stats/over_seeds.welch_t, equal to scipy.stats.ttest_ind(equal_var=False)) compares the
N values of A with the N values of B, as two independent samples (the examples are the same in both, so
a paired test would have more power; Welch is the paper's kind of test). A small p says the block's mean
attention output differs between the two methods.

Where the attention outputs come from:
  - --saved METHOD=DIR ...: fine-tuned models, one per method (run.py --save-model, or any Hugging Face
    directory with config.json, vocab.txt, model.safetensors), run as at evaluation, without mixing. One
    --dataset then (the models were trained on it). Stored result JSONs hold no activations: they cannot
    feed this test.
  - otherwise: the backbone (--model / --weights) with each method's mixing applied at a fixed λ (--lam),
    each example's partner being the next example of its batch, as in bench.attention's pictures.
    A block before a method's first mixing point gives equal values and p = 1.

Output in --out (default results/attention): attention-ttest.csv (dataset, block, a, b, mean_a, mean_b, t,
df, p) and, with matplotlib, attention-ttest.png (per dataset: method pairs x blocks, colour = p, log scale).
"""

import argparse
import csv
import io
import sys
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from amplify.methods import make_method
from amplify.results import write_text_atomic
from bench.attention.maps import CHOICES, DEFAULT_LAM, fixed_plan, load, watching
from bench.report.plots import INSTALL, figure_class, save_png
from bench.stats.over_seeds import welch_t
from data import DATASETS, DataMissingError, load_dataset
from model.bert import masked_mean, no_mix
from model.registry import MODELS, ModelNotFound


@torch.no_grad()
def attention_outputs(model, batch, mix):
    """(B, L): per example and block, the attention sub-layer's output after `mix`, averaged over the
    example's real tokens, then its root mean square over the hidden units."""
    out = {}

    def watch(at, layer, h, mask_before, mask_after):
        if at == "attention":
            out[layer] = masked_mean(h, mask_after).pow(2).mean(-1).sqrt()  # (B, H) -> (B,)

    model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=watching(mix, watch))
    return torch.stack([out[k] for k in sorted(out)], 1)


def examples(dataset, limit, data_dir=None):
    ds = load_dataset(dataset, data_dir)
    idx = np.random.default_rng(0).permutation(len(ds.test))[:limit]
    return [ds.test[i] for i in sorted(idx)]


def batches(tok, exs, size=32):
    for s in range(0, len(exs), size):
        chunk = exs[s:s + size]
        ids, types = tok.encode_batch([e.text for e in chunk],
                                      [e.text_b for e in chunk] if chunk[0].text_b is not None else None)
        T = max(map(len, ids))
        yield {"input_ids": torch.tensor([x + [tok.pad_id] * (T - len(x)) for x in ids]),
               "token_type_ids": torch.tensor([x + [0] * (T - len(x)) for x in types]),
               "attention_mask": torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in ids])}


def values_mixed(model, tok, exs, methods, lam, mix_layer=None):
    """method -> (N, L) from the backbone with each method's mixing at λ; partner = next in the batch."""
    L = model.config.num_hidden_layers
    out = {m: [] for m in methods}
    for batch in batches(tok, exs):
        B = batch["input_ids"].shape[0]
        perm = torch.roll(torch.arange(B), -1)
        for name in methods:
            method = make_method(name, L)
            out[name].append(attention_outputs(model, batch, method.mixer(fixed_plan(method, perm, lam, mix_layer))))
    return {m: torch.cat(v).numpy() for m, v in out.items()}


def values_saved(saved, exs, max_length=256):
    """method -> (N, L) from each method's own fine-tuned model, no mixing."""
    out = {}
    for name, d in saved.items():
        model, tok = load(weights=d, max_length=max_length)
        out[name] = np.concatenate([attention_outputs(model, b, no_mix).numpy() for b in batches(tok, exs)])
    return out


def tests(values, dataset):
    """Welch's t per block for every pair of methods: a list of records."""
    recs = []
    methods = list(values)
    L = values[methods[0]].shape[1]
    for a, b in combinations(methods, 2):
        for block in range(1, L + 1):
            x, y = values[a][:, block - 1], values[b][:, block - 1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # identical values before a method's first mix: p = 1, said above
                t, p, df = welch_t(x, y)
            recs.append({"dataset": dataset, "block": block, "a": a, "b": b, "mean_a": float(x.mean()),
                         "mean_b": float(y.mean()), "t": t, "df": df, "p": p, "n": len(x)})
    return recs


def ttest_csv(recs):
    buf = io.StringIO()
    cols = ["dataset", "block", "a", "b", "n", "mean_a", "mean_b", "t", "df", "p"]
    w = csv.DictWriter(buf, cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in recs:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def plot(Figure, recs, caption):
    from matplotlib.colors import LogNorm

    datasets = list(dict.fromkeys(r["dataset"] for r in recs))
    pairs = list(dict.fromkeys((r["a"], r["b"]) for r in recs))
    L = max(r["block"] for r in recs)
    fig = Figure(figsize=(1.8 + (1.6 + 0.75 * L) * len(datasets), 1.6 + 0.5 * len(pairs)), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    norm = LogNorm(vmin=1e-6, vmax=1.0)
    image = None
    for ax, d in zip(axes, datasets, strict=True):
        grid = np.full((len(pairs), L), np.nan)
        for r in (r for r in recs if r["dataset"] == d):
            grid[pairs.index((r["a"], r["b"])), r["block"] - 1] = r["p"]
        image = ax.imshow(np.ma.masked_invalid(np.clip(grid, 1e-6, 1.0)), cmap="viridis", norm=norm, aspect="auto")
        for (i, j), p in np.ndenumerate(grid):
            text = "n/a" if np.isnan(p) else f"{p:.2g}" if p >= 1e-4 else f"{p:.0e}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if p < 1e-3 else "black")
        ax.set_xticks(range(L), [str(k) for k in range(1, L + 1)])
        ax.set_yticks(range(len(pairs)), [f"{a} vs {b}" for a, b in pairs], fontsize=8)
        ax.set(xlabel="block", title=d)
    fig.colorbar(image, ax=list(axes), label="Welch p (log scale)")
    fig.suptitle("Welch's t-test between methods' attention outputs, per block\n"
                 "(per example: attention sub-layer output, RMS over hidden units of the mean over real tokens; "
                 f"{caption})",
                 fontsize=9)
    return fig


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench.attention.ttest",
        description="Per dataset, Welch p-values between methods' attention outputs, block by block (the paper's "
                    "Figure 3). It compares, per block, the N examples' attention sub-layer outputs (mean over "
                    "real tokens, then RMS over hidden units) of method A with those of method B (Welch's t, "
                    "two-sided).",
        epilog=__doc__.split("\n\n")[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", nargs="+", default=["trec-coarse"], choices=DATASETS, help="(%(default)s)")
    p.add_argument("--methods", nargs="+", default=["none", "amplify", "embedmix"], choices=CHOICES, metavar="M",
                   help=f"(default: %(default)s); from {', '.join(CHOICES)}")
    p.add_argument("--saved", nargs="+", default=None, metavar="METHOD=DIR",
                   help="fine-tuned models, one per method (replaces --methods; one --dataset)")
    p.add_argument("--limit", type=int, default=256, help="test examples per dataset (%(default)s)")
    p.add_argument("--lam", type=float, default=DEFAULT_LAM, help="the fixed λ without --saved (%(default)s)")
    p.add_argument("--model", default="minilm-l6", choices=MODELS, help="backbone without --saved (%(default)s)")
    p.add_argument("--weights", default=None, help="a model directory for the backbone")
    p.add_argument("--max-length", type=int, default=128, help="tokens per example (%(default)s)")
    p.add_argument("--data-dir", default=None, help="datasets root (default $AMPLIFY_DATA_DIR)")
    p.add_argument("--out", default="results/attention", help="output directory (%(default)s)")
    args = p.parse_args(argv)
    saved = None
    if args.saved:
        bad = [s for s in args.saved if "=" not in s]
        if bad:
            p.error(f"--saved takes METHOD=DIR, got {bad}")
        saved = dict(s.split("=", 1) for s in args.saved)
        if len(saved) < 2 or len(args.dataset) != 1:
            p.error("--saved needs two or more METHOD=DIR and exactly one --dataset")
    elif len(args.methods) < 2:
        p.error("give two or more --methods")
    recs = []
    try:
        if saved is None:
            model, tok = load(args.model, args.weights, args.max_length)
        for d in args.dataset:
            exs = examples(d, args.limit, args.data_dir)
            if saved is None:
                values = values_mixed(model, tok, exs, args.methods, args.lam)
            else:
                values = values_saved(saved, exs, args.max_length)
            recs += tests(values, d)
            print(f"{d}: {len(exs)} examples, {len(values)} methods")
    except (ValueError, ModelNotFound, DataMissingError) as e:
        p.exit(2, f"bench.attention.ttest: error: {e}\n")
    out = Path(args.out)
    written = [out / "attention-ttest.csv"]
    write_text_atomic(written[0], ttest_csv(recs))
    Figure = figure_class()
    caption = (f"fine-tuned models {', '.join(saved)}" if saved else
               f"{args.weights or args.model} with each method's mixing at λ={args.lam:g}, partner = next example")
    if Figure is not None:
        written.append(out / "attention-ttest.png")
        save_png(plot(Figure, recs, caption), written[-1])
    print("wrote " + ", ".join(map(str, written)))
    if Figure is None:
        print(f"matplotlib is not installed: no PNG; {INSTALL}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
