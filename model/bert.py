"""
BERT (Devlin et al. 2019, arXiv:1810.04805) as an encoder for sentence classification, in one file.

Read top-down: config, embeddings, self-attention, the block (`BertLayer`), encoder, pooler, and the
classification model. Module and parameter names mirror the Hugging Face checkpoint keys
(`encoder.layer.3.attention.self.query.weight` ...), so loading pretrained weights is a plain copy
loop (model/loading.py). tests/test_bert.py proves the outputs equal to `transformers.BertModel`.

DistilBERT (Sanh et al. 2019, arXiv:1910.01108) is the same network with less: post-LayerNorm blocks as
BERT's, no token-type embeddings, no dropout after the attention output projection, and no pretrained
pooler (its classifier puts a new dense layer + ReLU on [CLS], `pre_classifier`, where BERT has its tanh
pooler). Config fields say each difference (`BertConfig.from_dict` reads a DistilBERT config.json);
model/loading.py lists its checkpoint names; tests/test_distilbert.py proves the outputs equal to
`transformers.DistilBertModel` and `DistilBertForSequenceClassification`.

Mixup needs to reach inside the network, so the forward pass threads one callable through it:

    mix(site, layer, h, mask) -> (h, mask)

called at every insertion point a mixup method may use:
    "embeddings", 0        the embedding output (word + position + type, LayerNorm, dropout)
    "attention",  1..L     inside block `layer`, after the attention sub-layer (output dense, dropout,
                           residual, LayerNorm) and before the feed-forward sub-layer  <- AMPLIFY
    "block",      1..L     the output of block `layer`                               <- TMix, Manifold
    "pooled",     0        the sentence vector right before the classifier           <- SentenceMix
`h` is (B, T, d) (or (B, d) at "pooled"); `mask` is the (B, T) padding mask (1 = real token). A method
may return a new mask (EmbedMix and Manifold Mixup use the union of both sequences' masks); later
attention uses it. `no_mix` is the identity, used for evaluation and for the `none` method.

Speed on CPU (each point is checked against the plain computation in tests/test_padding_free.py
and tests/test_attention_probs.py):
- The padding mask becomes an additive attention bias once per batch (and again only when a method
  changes the mask), in the form the attention kernel takes, instead of once per block.
- Dropout draws 32 random bits per element from 64-bit draws (numpy's SFC64, seeded from torch's
  generator) and compares them with a threshold, several times cheaper than torch's bernoulli_ on CPU,
  with the same keep probability (to 2^-33) and the same expectation (`Dropout`). In training,
  attention is written out on CPU (`BertSelfAttention`): SDPA's CPU kernels take no dropout, so SDPA
  falls back to a math path that re-checks every row for -inf.
- Padding-free, and only what the head reads: the position-wise work (every linear layer, LayerNorm,
  GELU, dropout: most of the FLOPs) runs only on the positions whose values the pass reads later,
  packed into (N, d); attention and the mix callables see the padded (B, T, d) layout. Which positions,
  and the moves between the layouts: model/packing.py (`positions_needed`, `Rows`). The blocks below take
  their rows from `BertModel.forward`.

Looking inside (bench/attention/): set `keep_probs = True` on a block's attention
(`model.bert.encoder.layer[k - 1].attention.self`) and that block's forward writes its attention
probabilities, softmax(QKᵀ/√d_head + padding bias) before dropout, (B, nh, T, T), detached, into `.probs`.
It takes the written-out attention path instead of SDPA (same output, to float rounding); everything
else, and the default, is unchanged. Rows of padding queries are not meaningful there.
"""

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from model.packing import Mixer, Rows, positions_needed


def _identity(site, layer, h, mask):
    return h, mask


no_mix = Mixer(_identity, mixes=frozenset())  # mixes nowhere: the model may skip every padding position


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"  # the exact erf GELU, as in the original BERT
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    initializer_range: float = 0.02  # std of the normal init, also used for a new classifier head
    # What DistilBERT does differently (BertConfig.from_dict sets these from its config.json):
    model_type: str = "bert"  # "distilbert": the checkpoint's parameter names (model/loading.py)
    pooler_act: str = "tanh"  # activation of the dense layer on [CLS]; DistilBERT's pre_classifier: "relu"
    attn_output_dropout: bool = True  # dropout after the attention output projection (DistilBERT has none)
    classifier_dropout: float | None = None  # before the classifier; None: hidden_dropout_prob (as HF's BERT)

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads "
                f"{self.num_attention_heads}"
            )
        if self.hidden_act not in ACT2FN:
            raise ValueError(f"hidden_act {self.hidden_act!r} not supported; choose from {sorted(ACT2FN)}")
        if self.pooler_act not in ("tanh", "relu"):
            raise ValueError(f"pooler_act {self.pooler_act!r} not supported; choose 'tanh' or 'relu'")

    @classmethod
    def from_dict(cls, d):
        """Keep the keys we model; a checkpoint config carries many others (architectures, ...)."""
        known = {f.name for f in fields(cls)}
        if d.get("model_type") == "distilbert" and "dim" in d:
            d = distilbert_config(d)
        if d.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"position_embedding_type {d['position_embedding_type']!r}: only 'absolute'")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json(cls, path):
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: cannot read the model config: {e}") from e
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from e


# A DistilBERT config.json's names -> ours; the rest (vocab_size, max_position_embeddings, pad_token_id,
# initializer_range) are named alike. Its LayerNorm eps is fixed at 1e-12 in its code, as BERT's default.
DISTILBERT_CONFIG_KEYS = {
    "dim": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "hidden_dim": "intermediate_size",
    "activation": "hidden_act",
    "dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
    "seq_classif_dropout": "classifier_dropout",
}


def distilbert_config(d):
    """A DistilBERT config.json (dict) -> the dict of the BertConfig that is the same network."""
    if d.get("sinusoidal_pos_embds"):
        raise ValueError("sinusoidal_pos_embds: fixed sinusoidal positions are not supported (learned only)")
    out = {DISTILBERT_CONFIG_KEYS.get(k, k): v for k, v in d.items()}
    out.update(model_type="distilbert", type_vocab_size=0, pooler_act="relu", attn_output_dropout=False)
    return out


ACT2FN = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class Dropout(nn.Module):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

    On CPU the mask comes from 32 random bits per element, taken from 64-bit draws viewed as pairs of
    int32: an element is dropped when its bits fall below t = round(p·2^32), so P(drop) = t/2^32,
    within 2^-33 of p (torch's bernoulli_ compares a float with a 24-bit mantissa: no finer). Kept
    values are scaled by 1/(1 - t/2^32), so E[output] = x exactly. The bits come from numpy's SFC64
    generator, seeded for each call by one draw from torch's generator: torch.manual_seed still fixes
    every mask (and a checkpoint's RNG state resumes them), and SFC64 makes the bits ~3x faster than
    torch's own int64 `random_` (a Mersenne twister) on CPU, where the bits were most of dropout's cost.
    torch's bernoulli_ draws one float per element and costs more still. The random stream differs from
    nn.Dropout's (same seed, other masks). Elsewhere (CUDA) it is F.dropout.
    """

    def __init__(self, p):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu" or self.p == 1.0:  # p = 1: every element dropped, as F.dropout does
            return F.dropout(x, self.p, True)
        t = round(self.p * 2**32)
        n = x.numel()
        seed = int(torch.empty((), dtype=torch.int64).random_())  # from torch's generator: seeded runs stay so
        raw = np.random.SFC64(seed).random_raw((n + 1) // 2)  # (ceil(n/2),) uint64: 64 random bits each
        bits = torch.from_numpy(raw.view(np.int32)[:n]).view(x.shape)  # 32 random bits per element, uniform on int32
        keep = bits >= t - 2**31  # P(keep) = 1 - t/2^32
        return x * torch.where(keep, 1.0 / (1.0 - t / 2**32), 0.0).to(x.dtype)

    def extra_repr(self):
        return f"p={self.p}"


def attention_bias(mask):
    """(B, T) padding mask (1 = real) -> (B, 1, 1, T) additive float bias: 0 on real keys, a large
    negative number on padding keys (what SDPA adds to the scores; a bool mask it would convert in every
    block). Not -inf: a row without any real key (no real batch has one) then averages, not NaN."""
    return (mask[:, None, None, :] == 0).float() * torch.finfo(torch.float32).min


class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        # DistilBERT (type_vocab_size 0) has none, and ignores token_type_ids
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size) if cfg.type_vocab_size else None
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        T = input_ids.size(1)
        pos = torch.arange(T, device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos)  # (B, T, d)
        if self.token_type_embeddings is not None:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout_p = cfg.attention_probs_dropout_prob
        self.attn_dropout = Dropout(cfg.attention_probs_dropout_prob)
        self.keep_probs = False  # True: keep the attention probabilities in .probs (see the module docstring)
        self.probs = None  # (B, nh, T, T) from the last forward with keep_probs

    def forward(self, x, bias, rows=None, out_rows=None, queries=None):
        """x: (B, T, d), or (N, d) packed `rows` of it; bias: (B, 1, 1, T) from `attention_bias`.
        Returns (B, T, d), or with `rows` the (N', d) packed `out_rows` (a subset of `rows`).
        queries: (B, d), the inputs at [CLS], when [CLS] is the only query whose output anyone reads
        (the pooler's last block): q is computed there alone, k and v at `rows`; returns (B, d)."""
        d, nh = x.shape[-1], self.n_head
        if queries is None:
            # One GEMM for q, k and v instead of three: the weights stay separate (checkpoint names),
            # concatenating them costs little and a bigger matmul runs closer to peak on CPU and GPU.
            w = torch.cat([self.query.weight, self.key.weight, self.value.weight])  # (3d, d)
            b = torch.cat([self.query.bias, self.key.bias, self.value.bias])
            qkv = F.linear(x, w, b)  # (B, T, 3d) or (N, 3d)
            if rows is not None:
                qkv = rows.unpack(qkv)  # (B, T, 3d): attention needs the padded layout; zeros elsewhere
            B, T = qkv.shape[:2]
            q, k, v = qkv.view(B, T, 3, nh, d // nh).permute(2, 0, 3, 1, 4).unbind(0)  # (B, nh, T, hs)
        else:
            w = torch.cat([self.key.weight, self.value.weight])  # (2d, d)
            b = torch.cat([self.key.bias, self.value.bias])
            kv = rows.unpack(F.linear(x, w, b))  # (B, T, 2d)
            B, T = kv.shape[:2]
            k, v = kv.view(B, T, 2, nh, d // nh).permute(2, 0, 3, 1, 4).unbind(0)  # (B, nh, T, hs)
            q = self.query(queries).view(B, nh, 1, d // nh)  # (B, nh, 1, hs): one query per example
        # Padding keys are hidden from every query; padded queries still produce (ignored) outputs.
        # Tq below: the queries, T (or 1 with `queries`).
        bias = bias.to(q.dtype).clamp_min(torch.finfo(q.dtype).min)  # float32's min is -inf in bf16: keep it finite
        if self.keep_probs or (self.training and self.dropout_p > 0 and q.device.type == "cpu"):
            # SDPA's CPU kernels take no dropout: it would fall back to a math path that also re-checks
            # every row for -inf. Written out, with our cheaper dropout masks (and the probabilities
            # at hand for whoever asked to keep them):
            att = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1) + bias  # (B, nh, Tq, T)
            probs = att.softmax(-1)  # (B, nh, Tq, T)
            if self.keep_probs:
                self.probs = probs.detach()
            y = self.attn_dropout(probs) @ v  # (B, nh, Tq, hs)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=self.dropout_p if self.training else 0.0
            )  # (B, nh, Tq, hs)
        if queries is not None:
            return y.reshape(B, d)  # (B, nh, 1, hs) -> (B, d)
        y = y.transpose(1, 2).reshape(B, T, d)
        return y if rows is None else out_rows.pack(y)


class BertSelfOutput(nn.Module):
    """Output projection, dropout, residual and LayerNorm: the end of the attention sub-layer."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.hidden_dropout_prob if cfg.attn_output_dropout else 0.0)

    def forward(self, y, residual):
        return self.LayerNorm(self.dropout(self.dense(y)) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)

    def forward(self, h, mask, rows=None, bias=None):
        """(B, T, d) -> (B, T, d). With `rows` = (input rows, output rows), q, k, v are computed at the
        first and the output at the second only (zeros elsewhere). `bias` = attention_bias(mask), when
        the caller has it already."""
        bias = attention_bias(mask) if bias is None else bias
        if rows is None:
            return self.output(self.self(h, bias), h)
        rows_in, rows_out = rows
        if rows_out.cls and not self.self.keep_probs:  # [CLS] is the only query read: q there alone
            cls = h[:, 0]  # (B, d)
            return rows_out.unpack(self.output(self.self(rows_in.pack(h), bias, rows_in, queries=cls), cls))
        y = self.self(rows_in.pack(h), bias, rows_in, rows_out)  # (N_out, d)
        return rows_out.unpack(self.output(y, rows_out.pack(h)))


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = ACT2FN[cfg.hidden_act]

    def forward(self, x):
        return self.act(self.dense(x))  # (B, T, 4d)


class BertOutput(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.hidden_dropout_prob)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)  # (B, T, d)


class BertLayer(nn.Module):
    """One block: attention sub-layer, then the feed-forward sub-layer (post-LayerNorm, as BERT)."""

    def __init__(self, cfg, index):
        super().__init__()
        self.index = index  # 1-based, as the paper counts blocks
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, h, mask, mix=no_mix, bias=None, rows=None):
        """h: (B, T, d), mask: (B, T); bias: attention_bias(mask) if already made; rows: this block's
        (q/k/v rows, attention output rows, feed-forward rows) from positions_needed, or None for every
        position."""
        attn_rows, ffn_rows = (None, None) if rows is None else (rows[:2], rows[2])
        a = self.attention(h, mask, attn_rows, bias)  # (B, T, d)
        a, mask = mix("attention", self.index, a, mask)  # <- AMPLIFY's insertion point
        if ffn_rows is None:
            return self.output(self.intermediate(a), a), mask
        x = ffn_rows.pack(a)  # (N, d): the feed-forward sub-layer is position-wise
        return ffn_rows.unpack(self.output(self.intermediate(x), x)), mask


class BertEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg, i + 1) for i in range(cfg.num_hidden_layers)])

    def forward(self, h, mask, mix=no_mix, rows=None):
        bias = attention_bias(mask)  # once per batch, and again only if a method changes the mask
        for i, layer in enumerate(self.layer):
            h, new_mask = layer(h, mask, mix, bias, None if rows is None else rows[i])
            h, new_mask = mix("block", layer.index, h, new_mask)  # <- TMix / Manifold Mixup
            if new_mask is not mask:
                mask, bias = new_mask, attention_bias(new_mask)
        return h, mask


class BertPooler(nn.Module):
    """tanh(dense(h[CLS])): BERT's sentence vector, trained by next-sentence prediction. DistilBERT's
    classifier has relu(pre_classifier(h[CLS])) in its place, new at fine-tuning (pooler_act "relu")."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.act = torch.tanh if cfg.pooler_act == "tanh" else torch.relu

    def forward(self, h):
        return self.act(self.dense(h[:, 0]))  # (B, d)


class BertModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.pooler = BertPooler(cfg)
        # Compute only the positions the pass reads (CPU; see positions_needed). On CUDA the index
        # bookkeeping would sync host and device every step, and a GPU has throughput to spare.
        self.padding_free = True

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, mix=no_mix, pool=True, cls_only=False):
        """Returns (sequence output (B, T, d), pooled output (B, d) or None, final mask (B, T)).
        cls_only: the caller reads the pooled output only; on the padding-free path the last block then
        computes its position-wise work at [CLS] only, and the sequence output is zero elsewhere."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None and self.embeddings.token_type_embeddings is not None:
            token_type_ids = torch.zeros_like(input_ids)
        rows = None
        cls_only = cls_only and pool
        if self.padding_free and input_ids.device.type == "cpu" and (cls_only or not bool(attention_mask.all())):
            needed = positions_needed(attention_mask, mix, self.config.num_hidden_layers, cls_only)
            if needed is not None:
                rows = [tuple(Rows(r) for r in block) for block in needed]
        h = self.embeddings(input_ids, token_type_ids)  # (B, T, d)
        h, mask = mix("embeddings", 0, h, attention_mask)  # <- EmbedMix / Manifold Mixup (layer 0)
        h, mask = self.encoder(h, mask, mix, rows)
        return h, (self.pooler(h) if pool else None), mask


def masked_mean(h, mask):
    """Mean of h over the real tokens: (B, T, d), (B, T) -> (B, d)."""
    m = mask.to(h.dtype).unsqueeze(-1)  # (B, T, 1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


class BertForSequenceClassification(nn.Module):
    """BERT + a sentence vector + dropout + linear classifier.

    pooling="pooler": BERT's pooler on [CLS] (the paper's setting, and Hugging Face's); for DistilBERT
                      its pre_classifier + ReLU on [CLS], as DistilBertForSequenceClassification.
    pooling="mean":   the mean of the last hidden states over real tokens. (The released AMPLIFY code
                      averages over all positions, padding included; we mask the padding.)
    """

    def __init__(self, cfg, num_labels, pooling="pooler"):
        super().__init__()
        if pooling not in ("pooler", "mean"):
            raise ValueError(f"pooling must be 'pooler' or 'mean', got {pooling!r}")
        self.config, self.num_labels, self.pooling = cfg, num_labels, pooling
        self.bert = BertModel(cfg)
        self.dropout = Dropout(cfg.hidden_dropout_prob if cfg.classifier_dropout is None else cfg.classifier_dropout)
        self.classifier = nn.Linear(cfg.hidden_size, num_labels)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # BERT's init: N(0, 0.02) weights, zero biases, LayerNorm at identity. Pretrained weights
        # overwrite all but the classifier, which keeps exactly this init.
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, mix=no_mix):
        if not self.training:
            mix = no_mix  # evaluation never mixes, whatever the caller passes
        pool = self.pooling == "pooler"  # the pooler reads [CLS] only; a mean reads every token
        h, pooled, mask = self.bert(input_ids, attention_mask, token_type_ids, mix=mix, pool=pool, cls_only=pool)
        x = pooled if self.pooling == "pooler" else masked_mean(h, mask)  # (B, d)
        x, _ = mix("pooled", 0, x, mask)  # <- SentenceMix
        return self.classifier(self.dropout(x))  # (B, num_labels)

    def num_params(self, non_embedding=False):
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.bert.embeddings.word_embeddings.weight.numel()
        return n

    def flops_per_token(self, T):
        """Training FLOPs per token, 6N + 12·L·d·T (Kaplan et al. 2020; PaLM appendix B)."""
        c = self.config
        return 6 * self.num_params(non_embedding=True) + 12 * c.num_hidden_layers * c.hidden_size * T


def tiny_config(**overrides):
    """A small random BERT for unit tests: same code paths, milliseconds per step."""
    base = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=512)
    base.update(overrides)
    return BertConfig(**base)

