"""
Copy a pretrained BERT checkpoint into our modules.

Our module names are the checkpoint's, so this is a copy loop. The few differences between
checkpoints are listed here, not discovered:
  - bert-base-uncased (BertForPreTraining) prefixes the encoder with `bert.` and, being a 2018
    TensorFlow conversion, names LayerNorm parameters `gamma` / `beta` instead of `weight` / `bias`;
  - it also carries the pre-training heads `cls.*` (masked-LM, next-sentence), which we skip;
  - sentence-transformers checkpoints (all-MiniLM-L6-v2) have no prefix;
  - `embeddings.position_ids` is a buffer some versions save; positions are `arange(T)` here.
  - DistilBERT (config model_type "distilbert") names its parameters its own way: DISTILBERT_*_KEYS below.
    Its pretrained checkpoint (DistilBertForMaskedLM, prefix `distilbert.`) has no pre_classifier, our
    pooler's place: that one keeps its new init, as in DistilBertForSequenceClassification. The masked-LM
    head `vocab_*` is skipped.
Anything else missing, unexpected or of the wrong shape is an error that lists every offender.
"""

import torch

from model.bert import BertForSequenceClassification, BertModel
from model.safetensors import load_file

SKIPPED_PREFIXES = ("cls.",)  # pre-training heads
SKIPPED_KEYS = ("embeddings.position_ids",)
# A fine-tuned checkpoint's classifier is for someone else's labels: we always start a new head.
NEW_HEAD_PREFIXES = ("classifier.",)


# DistilBERT's names -> ours, by prefix: per block (after `transformer.layer.N.` -> `encoder.layer.N.`), and
# outside the blocks. The embeddings (word_embeddings, position_embeddings, LayerNorm) are named as ours.
DISTILBERT_BLOCK_KEYS = {
    "attention.q_lin.": "attention.self.query.",
    "attention.k_lin.": "attention.self.key.",
    "attention.v_lin.": "attention.self.value.",
    "attention.out_lin.": "attention.output.dense.",
    "sa_layer_norm.": "attention.output.LayerNorm.",
    "ffn.lin1.": "intermediate.dense.",
    "ffn.lin2.": "output.dense.",
    "output_layer_norm.": "output.LayerNorm.",
}
DISTILBERT_TOP_KEYS = {"pre_classifier.": "pooler.dense."}
DISTILBERT_SKIPPED_PREFIXES = ("vocab_transform.", "vocab_layer_norm.", "vocab_projector.")  # masked-LM head
DISTILBERT_NEW_IF_ABSENT = ("pooler.dense.weight", "pooler.dense.bias")  # pre_classifier: fine-tuned only


class CheckpointError(ValueError):
    pass


def _rename(key, table):
    for old, new in table.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def normalize_distilbert_key(key):
    """DistilBERT checkpoint key -> our BertModel key, or None for keys we skip on purpose. Keys already
    in our naming pass unchanged (a directory our own code saved)."""
    for prefix in ("distilbert.", "bert."):
        if key.startswith(prefix):
            key = key[len(prefix):]
    if key.startswith(DISTILBERT_SKIPPED_PREFIXES + NEW_HEAD_PREFIXES) or key in SKIPPED_KEYS:
        return None
    if key.startswith("transformer.layer."):
        n, rest = key[len("transformer.layer."):].split(".", 1)
        return f"encoder.layer.{n}." + _rename(rest, DISTILBERT_BLOCK_KEYS)
    return _rename(key, DISTILBERT_TOP_KEYS)


def normalize_key(key):
    """Checkpoint key -> our BertModel key, or None for keys we skip on purpose."""
    if key.startswith("bert."):
        key = key[len("bert."):]
    if key.startswith(SKIPPED_PREFIXES + NEW_HEAD_PREFIXES) or key in SKIPPED_KEYS:
        return None
    if key.endswith(".gamma"):
        key = key[: -len(".gamma")] + ".weight"
    elif key.endswith(".beta"):
        key = key[: -len(".beta")] + ".bias"
    return key


@torch.no_grad()
def load_bert_weights(model, state, source="checkpoint"):
    """Copy `state` (checkpoint name -> tensor) into a BertModel or the .bert of a classifier.

    Values are cast to the model's dtype. Returns the list of checkpoint keys skipped on purpose.
    """
    bert = model.bert if isinstance(model, BertForSequenceClassification) else model
    if not isinstance(bert, BertModel):
        raise TypeError(f"expected a BertModel or BertForSequenceClassification, got {type(model).__name__}")
    distil = bert.config.model_type == "distilbert"
    rename = normalize_distilbert_key if distil else normalize_key
    ours = bert.state_dict()
    seen, skipped, unexpected, mis_shaped, wrong = {}, [], [], [], set()
    for key, value in state.items():
        name = rename(key)
        if name is None:
            skipped.append(key)
        elif name in seen:
            unexpected.append(f"{key} (same parameter as {seen[name]})")
        elif name not in ours:
            unexpected.append(key)
        elif tuple(value.shape) != tuple(ours[name].shape):
            mis_shaped.append(f"{key}: checkpoint {tuple(value.shape)}, model {tuple(ours[name].shape)}")
            wrong.add(name)
        else:
            seen[name] = key
    missing = sorted(set(ours) - set(seen) - wrong - set(DISTILBERT_NEW_IF_ABSENT if distil else ()))
    if missing or unexpected or mis_shaped:
        lines = [f"{source}: the checkpoint does not fit the model config:"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mis_shaped)):
            if items:
                more = " ..." if len(items) > 20 else ""
                lines.append(f"  {title} ({len(items)}): " + ", ".join(items[:20]) + more)
        lines.append("  Check that config.json belongs to these weights (hidden size, layers, vocab).")
        raise CheckpointError("\n".join(lines))
    for name, key in seen.items():
        ours[name].copy_(state[key])  # state_dict tensors share storage with the parameters
    return skipped


def load_safetensors_into(model, path):
    """Read a .safetensors checkpoint with our reader and copy it in."""
    return load_bert_weights(model, load_file(path), source=str(path))
