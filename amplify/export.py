"""
The fine-tuned classifier on disk, in Hugging Face's layout: `run.py --save-model DIR` and the grid's
`--save-models` write it at the best-dev epoch; `load_model(DIR)` reads it back.

    DIR/model.safetensors       our state dict as is: our module names are Hugging Face's
                                (bert.embeddings..., bert.encoder.layer.0..., bert.pooler..., classifier...)
    DIR/config.json             BertConfig's fields + model_type, architectures, num_labels, id2label, label2id
    DIR/vocab.txt               the backbone's vocabulary, copied
    DIR/tokenizer_config.json   lower-casing and the run's max length, for AutoTokenizer

So `transformers.BertForSequenceClassification.from_pretrained(DIR)` gives our logits (tests/test_export.py
checks it to 1e-5). The one thing Hugging Face's class cannot express is `--pooling mean`: it always pools
with BERT's pooler. Such a directory records "amplify_pooling": "mean", which load_model honours and
Hugging Face ignores (a warning says so at save time).

    DIR/.amplify-model          a marker: this folder was written by save_model

Written with our own safetensors writer (model/safetensors.py); nothing here imports transformers. The
directory appears whole or not at all: files go to a temporary sibling that is renamed into place.
A user's folder is never deleted: save_model writes into a new or empty directory, or replaces one it wrote
itself (the marker, or an older save's exact file set) and that holds nothing else; `check_model_dir` says so
before training.
"""

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from model.bert import BertConfig, BertForSequenceClassification
from model.loading import CheckpointError, load_bert_weights
from model.safetensors import load_file, save_file
from model.tokenizer import WordPieceTokenizer

HEAD_KEYS = ("classifier.weight", "classifier.bias")  # what load_bert_weights leaves to us
MARKER = ".amplify-model"
WRITTEN = {"model.safetensors", "config.json", "vocab.txt", "tokenizer_config.json", MARKER}


def _ours(d):
    """True if directory `d` is one save_model wrote: its marker, or (saves before the marker) exactly the files
    it writes and a config.json with our own "amplify_pooling" field."""
    names = {p.name for p in d.iterdir()}
    if MARKER in names:
        return True
    try:
        legacy = json.loads((d / "config.json").read_text(encoding="utf-8")).get("amplify_pooling") is not None
    except (OSError, ValueError, AttributeError):
        return False
    return legacy and names == WRITTEN - {MARKER}


def check_model_dir(out_dir):
    """Raise OSError (FileExistsError, NotADirectoryError, PermissionError ...) naming `out_dir` unless save_model
    may write there: a new or empty directory, or one it wrote itself that holds only its own files."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise NotADirectoryError(f"{out_dir} is a file, not a directory; give a new or empty directory")
        names = sorted(p.name for p in out_dir.iterdir())
        if names and not _ours(out_dir):
            raise FileExistsError(f"{out_dir} is not a saved model directory (it holds {', '.join(names[:4])}"
                                  f"{' ...' if len(names) > 4 else ''}, which save_model did not write); give a new "
                                  "or empty directory")
        foreign = [n for n in names if n not in WRITTEN]
        if names and foreign:
            raise FileExistsError(f"{out_dir} holds a saved model and files save_model did not write ("
                                  f"{', '.join(foreign[:4])}); move them, or give a new or empty directory")
    for parent in out_dir.parents:
        if parent.exists():
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PermissionError(f"cannot create {out_dir}: {parent} is not writable")
            break


def check_exportable(model):
    """ValueError unless `model` has Hugging Face BertForSequenceClassification's layout (DistilBERT has not)."""
    kind = getattr(model.config, "model_type", "bert")
    if kind != "bert":
        raise ValueError(f"--save-model writes BERT classifiers in Hugging Face's BertForSequenceClassification "
                         f"layout; a {kind} model has other parameter names and is not exported yet")


def hf_config(model, label_names, max_length=None):
    """config.json for a BertForSequenceClassification of `model`, labels named `label_names`."""
    check_exportable(model)
    cfg = asdict(model.config)
    labels = [str(n) for n in label_names]
    if len(labels) != model.num_labels:
        raise ValueError(f"{len(labels)} label names for a {model.num_labels}-class model")
    cfg.update(model_type="bert", architectures=["BertForSequenceClassification"], num_labels=model.num_labels,
               id2label={str(i): n for i, n in enumerate(labels)}, label2id={n: i for i, n in enumerate(labels)},
               problem_type="single_label_classification", position_embedding_type="absolute",
               torch_dtype="float32", amplify_pooling=model.pooling)
    if max_length:
        cfg["amplify_max_length"] = max_length
    return cfg


def save_model(model, out_dir, label_names, vocab, max_length=None, state=None):
    """Write `model` (or `state`, a state dict of it, e.g. the best-dev epoch's) to `out_dir`; returns the Path.
    `vocab` is the backbone's vocab.txt. An existing `out_dir` is replaced only if check_model_dir allows it."""
    out_dir = Path(out_dir)
    check_model_dir(out_dir)
    if model.pooling != "pooler":
        print(f"note: {out_dir} holds a --pooling {model.pooling} model; Hugging Face's "
              "BertForSequenceClassification will pool with the pooler instead (load_model reads it right)",
              file=sys.stderr)
    state = model.state_dict() if state is None else state
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.")), None
    try:
        save_file(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(hf_config(model, label_names, max_length), indent=2) + "\n",
                                         encoding="utf-8")
        shutil.copyfile(vocab, tmp / "vocab.txt")
        tok = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
        if max_length:
            tok["model_max_length"] = max_length
        (tmp / "tokenizer_config.json").write_text(json.dumps(tok, indent=2) + "\n", encoding="utf-8")
        (tmp / MARKER).write_text("written by amplify/export.py (save_model), which replaces this folder only "
                                  "while this file is in it and no other file is added\n", encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the model from the other users of a shared disk
        if out_dir.exists():  # empty, or ours (checked above): out of the way first, removed once replaced
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old."))
            os.replace(out_dir, old / "model")
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out_dir.exists():  # the earlier model goes back where it was
            os.replace(old / "model", out_dir)
            shutil.rmtree(old, ignore_errors=True)
        raise
    return out_dir


def load_model(model_dir, max_length=None):
    """(model, tokenizer, label_names) from a directory written by save_model (or any Hugging Face
    BertForSequenceClassification directory with model.safetensors). The model is in eval mode."""
    d = Path(model_dir)
    raw = json.loads((d / "config.json").read_text(encoding="utf-8"))
    cfg = BertConfig.from_dict(raw)
    id2label = raw.get("id2label") or {str(i): str(i) for i in range(int(raw.get("num_labels", 2)))}
    label_names = [id2label[str(i)] for i in range(len(id2label))]
    model = BertForSequenceClassification(cfg, len(label_names), pooling=raw.get("amplify_pooling", "pooler"))
    state = load_file(d / "model.safetensors")
    load_bert_weights(model, state, source=str(d / "model.safetensors"))  # the encoder; skips the head
    with torch.no_grad():
        for key in HEAD_KEYS:
            ours = model.state_dict()[key]
            if key not in state or tuple(state[key].shape) != tuple(ours.shape):
                got = tuple(state[key].shape) if key in state else "missing"
                raise CheckpointError(f"{d / 'model.safetensors'}: {key} is {got}, the config needs "
                                      f"{tuple(ours.shape)} ({len(label_names)} labels)")
            ours.copy_(state[key])
    tokenizer = WordPieceTokenizer.from_dir(d, max_length=max_length or raw.get("amplify_max_length", 512))
    return model.eval(), tokenizer, label_names
