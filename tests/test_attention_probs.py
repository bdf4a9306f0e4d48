"""A block's attention probabilities on request (model/bert.py, `keep_probs`): equal to
softmax(QKᵀ/√d_head + padding mask) computed by hand, and the block's output unchanged."""

import pytest
import torch

from model.bert import BertForSequenceClassification, no_mix, tiny_config


def block_inputs(model, ids, mask):
    """The hidden state entering every block: the embedding output, then each block's output."""
    seen = []

    def spy(site, layer, h, m):
        if site in ("embeddings", "block"):
            seen.append(h.detach().clone())
        return h, m

    model.bert(ids, mask, mix=spy)  # a plain callable, not a Mixer: the plain padded computation
    return seen  # [input of block 1, ..., input of block L, output of block L]


@pytest.mark.parametrize("block", [1, 3])
def test_probs_equal_the_hand_computation_and_outputs_are_unchanged(block):
    torch.manual_seed(0)
    cfg = tiny_config(num_hidden_layers=3)
    model = BertForSequenceClassification(cfg, num_labels=2).eval()
    ids = torch.randint(5, 100, (3, 7))
    mask = torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 3 + [0] * 4])
    with torch.no_grad():
        h_ref, _, _ = model.bert(ids, mask)  # SDPA, the default
        logits_ref = model(ids, mask)
        x = block_inputs(model, ids, mask)[block - 1]  # (B, T, d)
        att = model.bert.encoder.layer[block - 1].attention.self
        att.keep_probs = True
        h, _, _ = model.bert(ids, mask)
        logits = model(ids, mask)

        B, T, d = x.shape
        nh = cfg.num_attention_heads
        hs = d // nh

        def heads(lin):
            return lin(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)

        q, k = heads(att.query), heads(att.key)
        scores = q @ k.transpose(-2, -1) / hs**0.5  # (B, nh, T, T)
        scores = scores.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        by_hand = scores.softmax(-1)

    probs = att.probs
    assert probs.shape == (B, nh, T, T)
    real = mask.bool()
    real_queries = probs.transpose(1, 2)[real], by_hand.transpose(1, 2)[real]  # (N, nh, T) each
    torch.testing.assert_close(*real_queries, rtol=0, atol=1e-6)
    torch.testing.assert_close(probs.sum(-1), torch.ones(B, nh, T), rtol=0, atol=1e-5)
    assert (probs[:, :, :, 5:][1] == 0).all() and (probs[:, :, :, 3:][2] == 0).all()  # padding keys get 0
    torch.testing.assert_close(h[real], h_ref[real], rtol=0, atol=1e-5)
    torch.testing.assert_close(logits, logits_ref, rtol=0, atol=1e-5)
    others = [i for i in range(cfg.num_hidden_layers) if i != block - 1]
    assert all(model.bert.encoder.layer[i].attention.self.probs is None for i in others)


def test_keep_probs_in_training_keeps_the_output_and_the_mixing():
    """In training (the written-out path, dropout off here), asking for probabilities changes nothing."""
    torch.manual_seed(0)
    cfg = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(cfg, num_labels=2).train()
    ids = torch.randint(5, 100, (2, 6))
    with torch.no_grad():
        a = model(ids, mix=no_mix)
        model.bert.encoder.layer[0].attention.self.keep_probs = True
        b = model(ids, mix=no_mix)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert model.bert.encoder.layer[0].attention.self.probs.shape == (2, cfg.num_attention_heads, 6, 6)
