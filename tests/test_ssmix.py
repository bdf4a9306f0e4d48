"""SSMix against hand computations: the saliency (autograd on the embedding output), the chosen spans,
the label ratio, the pairing with perm, sentence pairs segment by segment, and the clean-loss option."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amplify.methods import Plan, make_method, span_mix, token_saliency
from model.bert import BertForSequenceClassification, tiny_config

CLS, SEP = 101, 102
NO_AMP = lambda: torch.autocast("cpu", enabled=False)


def plan_for(lam, perm):
    perm = torch.tensor(perm)
    return Plan(lam=torch.tensor(lam), perm=perm, label_perm=perm, layers=frozenset({0}), lam_value=lam)


def single_batch():
    ids = torch.tensor([[CLS, 11, 12, 13, 14, 15, SEP, 0],
                        [CLS, 21, 22, 23, 24, SEP, 0, 0],
                        [CLS, 31, 32, 33, 34, 35, 36, SEP]])
    return ids, (ids != 0).long(), torch.zeros_like(ids)


def test_hand_worked_spans_and_ratios_single_sentences():
    ids, mask, types = single_batch()
    # [CLS] gets the lowest saliency, [SEP] the highest, padding 0: none of them may ever be chosen
    sal = torch.tensor([[0, 5, 4, 1, 2, 6, 100, 0],
                        [0, 1, 7, 8, 1, 100, 0, 0],
                        [0, 3, 3, 9, 9, .5, .5, 100]], dtype=torch.float)
    # λ = 0.6, lengths without [CLS]/[SEP] 5, 4, 6: n = round(0.4·L) = 2, 2, 2 (2.0, 1.6, 2.4)
    # ex0: own windows (1,2)=9 (2,3)=5 (3,4)=3 (4,5)=8 -> 3..4; partner ex1's best (2,3)=15 -> 22 23
    # ex1: own (1,2)=8 (2,3)=15 (3,4)=9 -> 1..2 (with [CLS] allowed, (0,1)=1 would win); partner ex2's
    #      best (3,4)=18 -> 33 34 (with [SEP] allowed, (6,7)=100.5 would win)
    # ex2: own (1,2)=6 (2,3)=12 (3,4)=18 (4,5)=9.5 (5,6)=1 -> 5..6; partner ex0's best (1,2)=9 -> 11 12
    out, ratio, spans = span_mix(ids, mask, types, sal, torch.tensor([1, 2, 0]), 0.6)
    assert out.tolist() == [[CLS, 11, 12, 22, 23, 15, SEP, 0],
                            [CLS, 33, 34, 23, 24, SEP, 0, 0],
                            [CLS, 31, 32, 33, 34, 11, 12, SEP]]
    torch.testing.assert_close(ratio, torch.tensor([1 - 2 / 5, 1 - 2 / 4, 1 - 2 / 6]))
    s, t, n = spans[0]  # the first (only non-empty) segment
    assert s.tolist() == [3, 1, 5] and t.tolist() == [2, 3, 1] and n.tolist() == [2, 2, 2]
    assert spans[1][2].tolist() == [0, 0, 0]  # single sentences: no second segment


def test_hand_worked_sentence_pairs_mix_segment_with_segment():
    # [CLS] a [SEP] b [SEP]: types 0 for [CLS] a [SEP], 1 for b [SEP]
    ids = torch.tensor([[CLS, 11, 12, 13, 14, SEP, 15, 16, SEP, 0],
                        [CLS, 21, 22, SEP, 23, 24, 25, 26, 27, SEP]])
    types = torch.tensor([[0] * 6 + [1] * 3 + [0], [0] * 4 + [1] * 6])
    mask = (ids != 0).long()
    sal = torch.tensor([[0, 1, 2, 9, 8.5, 50, 4, 1, 50, 0],
                        [0, 3, 1, 50, 2, 8, 1, 7, .5, 50]])
    # λ = 0.5. ex0 (a: L=4, b: L=2), partner ex1 (a: 2, b: 5): n_a = round(2) = 2, n_b = round(1) = 1
    #   a: own (1,2)=3 (2,3)=11 (3,4)=17.5 -> 1..2 <- ex1's a, only window (1,2): 21 22
    #   b: own 6:4 7:1 -> 7 <- ex1's b, most salient single token: 5 (8) -> 24
    # ex1, partner ex0: n_a = round(1) = 1; n_b = round(2.5) = 3 (half up), capped at ex0's b length 2
    #   a: own 1:3 2:1 -> 2 <- ex0's a most salient: 3 (9) -> 13
    #   b: own (4,5)=10 (5,6)=9 (6,7)=8 (7,8)=7.5 -> 7..8 <- ex0's b only window (6,7): 15 16
    out, ratio, spans = span_mix(ids, mask, types, sal, torch.tensor([1, 0]), 0.5)
    assert out.tolist() == [[CLS, 21, 22, 13, 14, SEP, 15, 24, SEP, 0],
                            [CLS, 21, 13, SEP, 23, 24, 25, 15, 16, SEP]]
    torch.testing.assert_close(ratio, torch.tensor([1 - 3 / 6, 1 - 3 / 7]))  # replaced / (L_a + L_b)
    assert [n.tolist() for _, _, n in spans] == [[2, 1], [1, 2]]


def content(ids, mask, types, j, seg):
    """Positions of example j's segment seg, [CLS]/[SEP]/padding left out."""
    return [k for k in range(ids.shape[1]) if mask[j, k] and types[j, k] == seg and int(ids[j, k]) not in (CLS, SEP)]


def best_start(sal_row, positions, n, pick):
    sums = [float(sal_row[positions[k:k + n]].double().sum()) for k in range(len(positions) - n + 1)]
    return positions[sums.index(pick(sums))]  # the first of equal sums, as argmin/argmax


def brute_force(ids, mask, types, sal, perm, lam):
    """SSMix's token mixing written as loops over examples, segments and windows."""
    out, ratios = ids.clone(), []
    for i in range(len(ids)):
        p = int(perm[i])
        replaced = total = 0
        for seg in (0, 1):
            own, other = content(ids, mask, types, i, seg), content(ids, mask, types, p, seg)
            n = min(int(np.floor((1 - lam) * len(own) + 0.5)), len(other))
            total += len(own)
            if n == 0:
                continue
            s, t = best_start(sal[i], own, n, min), best_start(sal[p], other, n, max)
            out[i, s:s + n] = ids[p, t:t + n]
            replaced += n
        ratios.append(1 - replaced / max(total, 1))
    return out, torch.tensor(ratios)


@pytest.mark.parametrize("seed", range(6))
def test_span_mix_equals_a_loop_over_windows(seed):
    g = torch.Generator().manual_seed(seed)
    B, T = 8, 16
    ids, types = torch.zeros(B, T, dtype=torch.long), torch.zeros(B, T, dtype=torch.long)
    for i in range(B):
        la = int(torch.randint(0, 7, (1,), generator=g))
        lb = int(torch.randint(0, 6, (1,), generator=g)) if seed % 2 else -1  # odd seeds: sentence pairs
        row = [CLS, *torch.randint(1000, 2000, (la,), generator=g).tolist(), SEP]
        types[i, len(row):len(row) + lb + 1] = 1
        if lb >= 0:
            row += [*torch.randint(3000, 4000, (lb,), generator=g).tolist(), SEP]
        ids[i, :len(row)] = torch.tensor(row)
    mask = (ids != 0).long()
    sal = torch.rand(B, T, generator=g)
    perm = torch.randperm(B, generator=g)
    for lam in (0.5, 0.62, 0.8, 1.0):
        out, ratio, _ = span_mix(ids, mask, types, sal, perm, lam)
        ref_out, ref_ratio = brute_force(ids, mask, types, sal, perm, lam)
        assert torch.equal(out, ref_out), lam
        torch.testing.assert_close(ratio, ref_ratio.float())
        assert torch.equal(out == CLS, ids == CLS) and torch.equal(out == SEP, ids == SEP) and torch.equal(
            out == 0, ids == 0)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    cfg = tiny_config(num_hidden_layers=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(cfg, num_labels=3).train()
    ids, mask, types = single_batch()
    batch = dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=torch.tensor([0, 2, 1]))
    return model, batch


def test_saliency_is_the_l2_norm_of_the_embedding_output_gradient(tiny):
    model, b = tiny
    ours, loss = token_saliency(model, b, NO_AMP)
    assert all(p.grad is None for p in model.parameters())  # the saliency pass makes no parameter gradients
    # by hand: the embedding output as a leaf, the rest of the network layer by layer
    e = model.bert.embeddings(b["input_ids"], b["token_type_ids"]).detach().requires_grad_(True)
    h = e
    for layer in model.bert.encoder.layer:
        h, _ = layer(h, b["attention_mask"])
    logits = model.classifier(model.bert.pooler(h))
    ref_loss = F.cross_entropy(logits, b["labels"])
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(ours, e.grad.norm(dim=-1))  # (B, T)
    assert ours.shape == (3, 8) and (ours[:, :5] > 0).all()


def test_prepare_mixes_by_saliency_with_the_plans_partner(tiny):
    model, b = tiny
    method = make_method("ssmix", 2)
    plan = plan_for(0.6, (1, 2, 0))
    mixed = method.prepare(model, b, plan, NO_AMP)
    sal, _ = token_saliency(model, b, NO_AMP)
    ref, ratio, _ = span_mix(b["input_ids"], b["attention_mask"], b["token_type_ids"], sal, plan.perm, 0.6)
    assert torch.equal(mixed["input_ids"], ref) and not torch.equal(ref, b["input_ids"])
    torch.testing.assert_close(plan.ratio, ratio)
    assert mixed["attention_mask"] is b["attention_mask"] and mixed["labels"] is b["labels"]  # own mask


def test_a_lambda_that_replaces_nothing_skips_the_saliency_pass(tiny, monkeypatch):
    model, b = tiny
    method = make_method("ssmix", 2)
    plan = plan_for(0.95, (1, 2, 0))  # round(0.05 · 6) = 0 for the longest row
    monkeypatch.setattr("amplify.methods.token_saliency", lambda *a, **k: pytest.fail("saliency pass ran"))
    assert method.prepare(model, b, plan, NO_AMP) is b and plan.ratio is None
    logits = torch.randn(3, 3)
    torch.testing.assert_close(method.loss(logits, b["labels"], plan), F.cross_entropy(logits, b["labels"]))


def test_clean_loss_option_is_the_mean_of_clean_and_mixed_losses(tiny):
    model, b = tiny
    method = make_method("ssmix", 2, ssmix_clean_loss=True)
    assert method.describe()["clean_loss"] is True and make_method("ssmix", 2).describe()["clean_loss"] is False
    plan = plan_for(0.6, (1, 2, 0))
    mixed_batch = method.prepare(model, b, plan, NO_AMP)
    logits = model(mixed_batch["input_ids"], b["attention_mask"], b["token_type_ids"])
    loss = method.loss(logits, b["labels"], plan)
    loss.backward()  # through the mixed graph and the kept clean graph
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad(set_to_none=True)

    r, y, yp = plan.ratio, b["labels"], b["labels"][plan.perm]
    logits2 = model(mixed_batch["input_ids"], b["attention_mask"], b["token_type_ids"])
    mixed = (r * F.cross_entropy(logits2, y, reduction="none") + (1 - r) * F.cross_entropy(logits2, yp,
                                                                                        reduction="none")).mean()
    clean = F.cross_entropy(model(b["input_ids"], b["attention_mask"], b["token_type_ids"]), y)
    expected = 0.5 * (clean + mixed)
    torch.testing.assert_close(loss, expected)
    expected.backward()
    ref = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) == len(ref)
    for a, c in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, c)
