"""
What `python -m bench.speed` times: our classifier and Hugging Face's BertForSequenceClassification holding
the same weights (checked by `parity`), the batches they are fed (one random batch, or a real epoch's
batches as a run makes them), one full training step of each as a callable, and the optimiser step alone.

The command, its measurement rules and its table are in train_step.py; the interleaved rounds in timing.py.
"""

import time

import torch
import torch.nn.functional as F

from amplify.methods import seeded_generators
from amplify.optim import AdamW
from amplify.train import train_step
from bench.speed.timing import quartiles, sync
from model.bert import BertConfig, BertForSequenceClassification, tiny_config
from model.loading import load_safetensors_into
from model.registry import ModelNotFound, model_dir, resolve_bert_base

# ----------------------------------------------------------------------------------------------------
# the models and the batch


def build_ours(name, weights=None, random_init=False, num_labels=2):
    """Our classifier. Pretrained weights unless `random_init` (same shape, N(0, 0.02) init).

    bert-base-uncased with --random-init never downloads: its config.json is used when the files are
    on this machine, else BertConfig()'s defaults, which are bert-base-uncased's shape.
    """
    if name == "tiny":
        return BertForSequenceClassification(tiny_config(), num_labels), {"name": name, "dir": None}
    if name == "bert-base-uncased" and random_init:
        try:
            d = resolve_bert_base(weights, download=False)
        except ModelNotFound:
            d = None
    else:
        d = model_dir(name, weights)  # bert-base-uncased: found, or downloaded, or a clear error
    cfg = BertConfig.from_json(d / "config.json") if d is not None else BertConfig()
    model = BertForSequenceClassification(cfg, num_labels)
    if not random_init:
        load_safetensors_into(model, d / "model.safetensors")
    return model, {"name": name, "dir": None if d is None else str(d)}


def import_transformers():
    """transformers is the optional reference: None when it is not installed."""
    try:
        import transformers
    except ImportError:
        return None
    return transformers


def build_hf(transformers, ours):
    """Hugging Face's BertForSequenceClassification (SDPA attention) holding a copy of our weights."""
    c = ours.config
    hf_cfg = transformers.BertConfig(**vars(c), num_labels=ours.num_labels)
    hf = transformers.BertForSequenceClassification._from_config(hf_cfg, attn_implementation="sdpa")
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=False)
    buffers = {n for n, _ in hf.named_buffers()}  # position_ids / token_type_ids: constant buffers
    if unexpected or set(missing) - buffers:
        raise RuntimeError(f"state dicts differ: missing {sorted(set(missing) - buffers)}, unexpected {unexpected}")
    return hf


def random_batch(cfg, batch_size, seq_len, num_labels, pad_frac=0.0, seed=0):
    """Random token ids (never the special ids below 1000), one segment; the last round(p·T) positions
    of every row padding (`pad_frac` p, at least one real token kept)."""
    g = torch.Generator().manual_seed(seed)
    low = min(1000, cfg.vocab_size - 1)  # bert's vocab: [PAD]=0, [unused*], [CLS]=101, [SEP]=102, ...
    ids = torch.randint(low, cfg.vocab_size, (batch_size, seq_len), generator=g)
    mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    n_pad = min(round(pad_frac * seq_len), seq_len - 1)
    if n_pad:
        mask[:, seq_len - n_pad:] = 0
        ids[:, seq_len - n_pad:] = cfg.pad_token_id
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": torch.zeros_like(ids),
        "labels": torch.randint(0, num_labels, (batch_size,), generator=g),
    }


def real_batches(dataset, model_name, weights, batch_size, seed, data_dir=None, max_length=256):
    """One epoch of real training batches, as a run makes them: shuffled by `seed`, not bucketed, each
    padded to its own longest example (dynamic padding). Returns (batches, number of classes)."""
    from data import load_dataset
    from data.batching import Batcher, encode
    from model.tokenizer import WordPieceTokenizer

    ds = load_dataset(dataset, data_dir=data_dir)
    d = model_dir("minilm-l6" if model_name == "tiny" else model_name, weights)  # tiny: BERT's vocabulary
    enc = encode(ds.train, WordPieceTokenizer.from_dir(d, max_length=max_length), name=f"{dataset}/train")
    return list(Batcher(enc, batch_size=batch_size, shuffle=True, seed=seed).epoch(0)), ds.num_labels


def time_optimizers(model, rounds, lr, device):
    """Our AdamW's step against torch.optim.AdamW, fused and default, each on its own copy of the model's
    parameters and last gradients (the same decay split), `rounds` interleaved rounds after 2 untimed
    ones (ours compiles its update in the first). Returns {name: ms per step} and our ratio to fused."""
    src = [p for p in model.parameters() if p.grad is not None]

    def copy():
        out = []
        for p in src:
            q = p.detach().clone().requires_grad_()
            q.grad = p.grad.detach().clone()
            out.append(q)
        return [{"params": [q for q in out if q.ndim >= 2], "weight_decay": 0.01},
                {"params": [q for q in out if q.ndim < 2], "weight_decay": 0.0}]

    opts = {"ours": AdamW(copy(), lr=lr), "torch-fused": torch.optim.AdamW(copy(), lr=lr, fused=True),
            "torch-default": torch.optim.AdamW(copy(), lr=lr)}
    times = {k: [] for k in opts}
    names = list(opts)
    for r in range(rounds + 2):
        for k in names[r % 3:] + names[: r % 3]:
            sync(device)
            t0 = time.perf_counter()
            opts[k].step()
            sync(device)
            if r >= 2:
                times[k].append(time.perf_counter() - t0)
    ratio = [a / b for a, b in zip(times["ours"], times["torch-fused"], strict=True)]
    q1, med, q3 = quartiles(ratio)
    return {"ms_median": {k: quartiles(v)[1] * 1e3 for k, v in times.items()}, "ours_vs_fused": med,
            "ours_vs_fused_iqr": [q1, q3], "rounds": rounds, "compiled": opts["ours"]._compiled is not None}


@torch.no_grad()
def parity(ours, hf, batch):
    """Max |logit difference| in eval mode (no dropout): proof the two hold the same weights."""
    ours.eval(), hf.eval()
    a = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    b = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
           token_type_ids=batch["token_type_ids"]).logits
    ours.train(), hf.train()
    return (a.float() - b.float()).abs().max().item()


# ----------------------------------------------------------------------------------------------------
# the steps: one callable per row of the table (a Variant, bench/speed/timing.py), each one full training step


class Feed:
    """The batch of the current round: one fixed batch, or real batches in turn (`--data`)."""

    def __init__(self, batches, device):
        self.batches, self.device = batches, device
        self.set(0)

    def set(self, i):
        self.index = i % len(self.batches)
        self.current = {k: v.to(self.device) for k, v in self.batches[self.index].items() if k != "index"}
        return self.current


def make_hf_step(hf, optimizer, feed, amp):
    def step():
        # The same sequence as train_step's `none`: forward, float loss, zero_grad, backward, update.
        batch = feed.current
        with amp():
            logits = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                        token_type_ids=batch["token_type_ids"]).logits
        loss = F.cross_entropy(logits.float(), batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def make_our_step(model, method, optimizer, feed, seed, device, amp):
    rng, gen = seeded_generators(seed)

    def step():
        return train_step(model, method, feed.current, optimizer, rng, gen, device, amp)

    return step
