"""
BERT (Devlin et al. 2019, arXiv:1810.04805) as an encoder for sentence classification, in one file.

Read top-down: config, embeddings, self-attention, the block (`BertLayer`), encoder, pooler, and the
classification model. Module and parameter names mirror the Hugging Face checkpoint keys
(`encoder.layer.3.attention.self.query.weight` ...), so loading pretrained weights is a plain copy
loop (model/loading.py). tests/test_bert.py proves the outputs equal to `transformers.BertModel`.

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
"""

import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def no_mix(site, layer, h, mask):
    return h, mask


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

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads "
                f"{self.num_attention_heads}"
            )
        if self.hidden_act not in ACT2FN:
            raise ValueError(f"hidden_act {self.hidden_act!r} not supported; choose from {sorted(ACT2FN)}")

    @classmethod
    def from_dict(cls, d):
        """Keep the keys we model; a checkpoint config carries many others (architectures, ...)."""
        known = {f.name for f in fields(cls)}
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


ACT2FN = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        T = input_ids.size(1)
        pos = torch.arange(T, device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos) + self.token_type_embeddings(
            token_type_ids
        )  # (B, T, d)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout_p = cfg.attention_probs_dropout_prob

    def forward(self, x, mask):
        B, T, d = x.shape
        # One GEMM for q, k and v instead of three: the weights stay separate (checkpoint names),
        # concatenating them costs little and a bigger matmul runs closer to peak on CPU and GPU.
        w = torch.cat([self.query.weight, self.key.weight, self.value.weight])  # (3d, d)
        b = torch.cat([self.query.bias, self.key.bias, self.value.bias])
        qkv = F.linear(x, w, b).view(B, T, 3, self.n_head, d // self.n_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, T, hs)
        # Padding keys are hidden from every query; padded queries still produce (ignored) outputs.
        attn_mask = None if mask is None else mask[:, None, None, :].bool()  # (B, 1, 1, T)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout_p if self.training else 0.0
        )  # (B, nh, T, hs)
        return y.transpose(1, 2).reshape(B, T, d)


class BertSelfOutput(nn.Module):
    """Output projection, dropout, residual and LayerNorm: the end of the attention sub-layer."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, y, residual):
        return self.LayerNorm(self.dropout(self.dense(y)) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)

    def forward(self, h, mask):
        return self.output(self.self(h, mask), h)


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
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

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

    def forward(self, h, mask, mix=no_mix):
        a = self.attention(h, mask)  # (B, T, d)
        a, mask = mix("attention", self.index, a, mask)  # <- AMPLIFY's insertion point
        return self.output(self.intermediate(a), a), mask


class BertEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg, i + 1) for i in range(cfg.num_hidden_layers)])

    def forward(self, h, mask, mix=no_mix):
        for layer in self.layer:
            h, mask = layer(h, mask, mix)
            h, mask = mix("block", layer.index, h, mask)  # <- TMix / Manifold Mixup
        return h, mask


class BertPooler(nn.Module):
    """tanh(dense(h[CLS])): BERT's sentence vector, trained by next-sentence prediction."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))  # (B, d)


class BertModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.pooler = BertPooler(cfg)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, mix=no_mix, pool=True):
        """Returns (sequence output (B, T, d), pooled output (B, d) or None, final mask (B, T))."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        h = self.embeddings(input_ids, token_type_ids)  # (B, T, d)
        h, mask = mix("embeddings", 0, h, attention_mask)  # <- EmbedMix / Manifold Mixup (layer 0)
        h, mask = self.encoder(h, mask, mix)
        return h, (self.pooler(h) if pool else None), mask


def masked_mean(h, mask):
    """Mean of h over the real tokens: (B, T, d), (B, T) -> (B, d)."""
    m = mask.to(h.dtype).unsqueeze(-1)  # (B, T, 1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


class BertForSequenceClassification(nn.Module):
    """BERT + a sentence vector + dropout + linear classifier.

    pooling="pooler": BERT's pooler on [CLS] (the paper's setting, and Hugging Face's).
    pooling="mean":   the mean of the last hidden states over real tokens. (The released AMPLIFY code
                      averages over all positions, padding included; we mask the padding.)
    """

    def __init__(self, cfg, num_labels, pooling="pooler"):
        super().__init__()
        if pooling not in ("pooler", "mean"):
            raise ValueError(f"pooling must be 'pooler' or 'mean', got {pooling!r}")
        self.config, self.num_labels, self.pooling = cfg, num_labels, pooling
        self.bert = BertModel(cfg)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
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
        h, pooled, mask = self.bert(
            input_ids, attention_mask, token_type_ids, mix=mix, pool=self.pooling == "pooler"
        )
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

