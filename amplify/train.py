"""
Fine-tune a BERT classifier with one mixup method: the paper's recipe as a plain loop.

    cfg = TrainConfig(method="amplify", dataset="trec-fine")
    result = train(cfg, out="results/run.json")

train() reads top-down: setup (model, data, method, optimiser, batches) -> resume (a checkpoint, if any) ->
run_epochs -> train_epoch -> take_step, and dev_evaluation (with save_checkpoint) -> final_test -> finish_result.
The loop's state is one Loop (what a checkpoint saves); what it trains with is one Run.

Recipe (paper, Experimental Settings): AdamW (lr 2e-5, eps 1e-8, weight decay 0.01, none on biases
and LayerNorm weights), batch 32, max length 256, cosine schedule with linear warm-up over the first
10% of steps, at most 15 epochs, early stopping with patience 5 on dev accuracy. The test accuracy
reported is the one at the epoch with the best dev accuracy (the first of tied epochs: only a strictly
better dev accuracy moves the best epoch and resets the patience count, as Hugging Face's early stopping
and best-model selection do); test never selects anything. Test is
evaluated once, at the end, on that epoch's weights (kept in memory); `eval_test_each_epoch` adds it
to every epoch's row (otherwise only the best epoch's row has it).

A budget in steps (the few-label regime, docs/fewshot.md; LM-BFF, Gao et al. 2021, does the same): with
`step_budget` the run trains that many optimiser steps, however many epochs that takes, and the cosine
schedule spans them; with `eval_every` dev is evaluated after every that-many steps and after the last one,
instead of at each epoch's end. Everything else is unchanged: result["epochs"] has one row per dev
evaluation (its "epoch" is the epoch it fell in, "steps" the steps done), patience counts evaluations, and
test is evaluated once, on the best-dev evaluation's weights (result["best_step"] says which).
`shots` trains on K examples per class and selects on K per class of dev (data/fewshot.py).

Resuming: with a `checkpoint` file, the loop saves its whole state after every dev evaluation, and a run of
the same config started again continues from there with the same numbers (amplify/checkpoint.py); an
evaluation inside an epoch resumes inside it, since each epoch's batches follow from (seed, epoch) alone.

Seeding: one seed sets the classifier head's init and dropout (torch's global RNG), the data order
(the batcher's seed) and the mixing draws (their own generators, amplify/methods.py). On CPU the same
seed gives the same numbers. On CUDA we train under bf16 autocast and avoid host-device syncs inside
the step: losses stay on the device and are read every `log_every` steps.
"""

import itertools
import math
import resource
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from amplify import checkpoint as ckpt
from amplify.allocator import after_step, keep_freed_memory
from amplify.logs import RunLog, steps_csv_path
from amplify.methods import make_method, seeded_generators
from amplify.optim import AdamW, cosine_with_warmup, param_groups, set_lr, warmup_steps
from amplify.results import environment, lost_write, pack_log_probs, write_json_atomic
from amplify.user_methods import is_spec, source_hash
from data import load_dataset
from data.batching import Batcher, encode
from data.fewshot import check_shots, few_shot
from data.noise import KINDS as NOISE_KINDS
from data.noise import add_noise
from model.registry import KNOWN_SHAPES, build

# TrainConfig fields that say where things are or how chatty the loop is, not what is computed: a run's key
# (bench/grid/plan.py) and a checkpoint's match (amplify/checkpoint.py) leave them out.
NOT_COMPUTED = ("data_dir", "cache_dir", "log_every")


@dataclass
class TrainConfig:
    method: str = "amplify"
    dataset: str = "trec-coarse"
    model: str = "minilm-l6"  # the offline default; the paper used bert-base-uncased
    weights: str | None = None  # a directory with config.json, vocab.txt, model.safetensors
    seed: int = 0
    epochs: int = 15
    patience: int = 5  # early stopping: dev evaluations without a better dev accuracy (an evaluation = an epoch)
    step_budget: int | None = None  # train this many optimiser steps instead of `epochs` (the schedule spans them)
    eval_every: int | None = None  # evaluate dev every this many steps (and after the last); None = every epoch
    lr: float = 2e-5
    batch_size: int = 32
    max_length: int = 256
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    eps: float = 1e-8
    max_grad_norm: float | None = None  # the paper does not clip; HF's Trainer would at 1.0
    # mixing
    alpha: float | None = None  # Beta(α, α); None = the method's own (amplify/methods.py: Method.alpha, Amplify.alpha)
    n_draws: int = 5  # AMPLIFY: λ = max of n draws (paper Table 1)
    amplify_layers: list[int] | None = None  # AMPLIFY blocks (1-based); None = every block
    label_perm: str = "same"  # "independent" = the baselines' released-code label pairing
    mix_epochs: list[int] | None = None  # mix only in these epochs (1-based; Mixup-Transformer's "dynamic"); None = all
    ssmix_clean_loss: bool = False  # SSMix: ½(clean CE + mixed loss), as the reference code; default mixed only
    label_smoothing: float | None = None  # labelsmooth's ε; None = E[1-λ] of AMPLIFY's λ (0.0384)
    method_options: dict | None = None  # a user's method's options (--method-option KEY=VALUE), its constructor's
    pooling: str = "pooler"  # or "mean" (masked mean of the last hidden states)
    # data
    noise: str | None = None  # "delete", "swap" (random pair) or "swap-adjacent": corrupt training texts
    noise_p: float = 0.0
    data_dir: str | None = None
    cache_dir: str | None = None
    train_limit: int | None = None  # a fixed random subset of train (same for every seed), for quick runs
    eval_limit: int | None = None  # likewise for dev and test
    shots: int | None = None  # K labelled examples per class in train and dev, drawn by seed (data/fewshot.py)
    bucket: bool = False  # length-bucketed batches (faster; changes the batch composition)
    # machinery
    device: str = "auto"
    max_steps: int | None = None  # stop after this many optimiser steps (curves, smoke tests)
    eval_batch_size: int = 128
    eval_test_each_epoch: bool = False  # test is evaluated once, on the best-dev epoch's weights; True: every epoch too
    log_every: int = 20
    pretrained: bool = True

    def validate(self):
        """Raise ValueError naming every bad option (as its command-line flag), else return self."""
        bad = self._recipe_problems() + self._data_problems() + self._mixing_problems()
        if bad:
            raise ValueError("; ".join(bad))
        return self

    def _recipe_problems(self):
        bad = []
        for name in ("lr", "batch_size", "max_length", "epochs", "eval_batch_size", "log_every"):
            if not getattr(self, name) > 0:
                bad.append(f"--{name.replace('_', '-')} must be > 0 (got {getattr(self, name)})")
        if not 0 <= self.warmup_ratio <= 1:
            bad.append(f"--warmup-ratio must be in [0, 1] (got {self.warmup_ratio})")
        if self.weight_decay < 0 or self.patience < 1:
            bad.append("--weight-decay must be >= 0 and --patience >= 1")
        try:
            ckpt.device_type(self.device)  # the name only: a login node need not have the GPU a job asks for
        except ValueError as e:
            bad.append(str(e))
        if self.n_draws < 1:
            bad.append(f"--n-draws must be >= 1 (got {self.n_draws})")
        if self.seed < 0:
            bad.append(f"--seed must be >= 0 (got {self.seed})")
        blocks, positions = KNOWN_SHAPES.get(self.model, (None, None)) if self.weights is None else (None, None)
        if positions is not None and self.max_length > positions:
            bad.append(f"--max-length must be <= {positions}, the positions of {self.model} (got {self.max_length})")
        layers = self.amplify_layers
        if layers is not None and (not layers or min(layers) < 1 or (blocks and max(layers) > blocks)):
            bad.append(f"--amplify-layers takes blocks 1..{blocks or 'the model has'} (got {layers}"
                       + (f"; {self.model} has {blocks} blocks)" if blocks else ")"))
        return bad

    def _data_problems(self):
        bad = []
        for name in ("max_steps", "step_budget", "eval_every", "train_limit", "eval_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                bad.append(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(self, name)})")
        if self.shots is not None:
            try:
                check_shots(self.shots)
            except ValueError as e:
                bad.append(str(e))
            if self.train_limit is not None:
                bad.append("--shots and --train-limit both choose the training examples: give one of them")
        if self.noise not in (None, *NOISE_KINDS) or not 0 <= self.noise_p < 1:
            bad.append(f"--noise must be one of {NOISE_KINDS} with 0 <= p < 1 (got {self.noise}, {self.noise_p})")
        return bad

    def _mixing_problems(self):
        bad = []
        if self.alpha is not None and self.alpha <= 0:
            bad.append(f"--alpha must be > 0 (got {self.alpha})")
        eps = self.label_smoothing
        if eps is not None and (self.method != "labelsmooth" or not 0 <= eps < 1):
            bad.append(f"--label-smoothing is labelsmooth's ε, in [0, 1) (got {eps} for {self.method})")
        if self.ssmix_clean_loss and self.method != "ssmix":
            bad.append(f"--ssmix-clean-loss applies to --method ssmix only (got {self.method})")
        epochs = self.mix_epochs
        if epochs is not None and (self.method in ("none", "labelsmooth") or min(epochs, default=0) < 1):
            bad.append(f"--mix-epochs takes 1-based epochs of a mixing method (got {self.mix_epochs}, {self.method})")
        elif epochs and self.step_budget is None and max(epochs) > self.epochs:
            bad.append(f"--mix-epochs {max(epochs)} is after the last epoch (--epochs {self.epochs}): "
                       "it would never mix")
        if self.method_options and not is_spec(self.method):
            bad.append(f"--method-option is for a method of one's own (path/to/file.py:Class), not {self.method}")
        if self.method == "mixup-transformer" and self.pooling != "pooler":
            bad.append("mixup-transformer mixes the [CLS] state that feeds the pooler: use --pooling pooler")
        return bad


@dataclass
class Data:
    ds: object
    train: object
    dev: object
    test: object
    info: dict = field(default_factory=dict)


def resolve_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    return dev


def subset(examples, limit, seed=0):
    """A fixed random subset (seed 0 whatever the run's seed: every run sees the same examples)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    idx = np.sort(np.random.default_rng(seed).permutation(len(examples))[:limit])
    return [examples[i] for i in idx]


def prepare_data(cfg, ds, tokenizer):
    drawn = None
    if cfg.shots is not None:  # K per class in train and dev, drawn by the seed alone: every method sees one split
        ds, drawn = few_shot(ds, cfg.shots, cfg.seed)
        for warning in drawn["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
    train = subset(ds.train, cfg.train_limit)
    if cfg.noise and cfg.noise_p > 0:
        train = add_noise(train, kind=cfg.noise, p=cfg.noise_p, seed=cfg.seed)
    dev, test = subset(ds.dev, cfg.eval_limit), subset(ds.test, cfg.eval_limit)
    enc = {
        name: encode(ex, tokenizer, cache_dir=cfg.cache_dir, name=f"{cfg.dataset}/{name}")
        for name, ex in (("train", train), ("dev", dev), ("test", test))
    }
    info = {"name": ds.name, "num_labels": ds.num_labels, "is_pair": ds.is_pair, "label_names": ds.label_names,
            "sizes": {k: len(v) for k, v in enc.items()}, "source": ds.info}
    if drawn is not None:
        info["fewshot"] = drawn  # what this run trained and selected on: counts, indices, sha256
    return Data(ds, enc["train"], enc["dev"], enc["test"], info)


def to_device(batch, device):
    if device.type != "cuda":
        return batch
    # pinned host memory lets the copy run asynchronously, overlapping the previous step's kernels
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}


def macro_f1(y_true, y_pred):
    """Mean F1 over the classes present in either labels or predictions (as scikit-learn's default)."""
    classes = np.union1d(y_true, y_pred)
    f1 = []
    for c in classes:
        tp = np.sum((y_pred == c) & (y_true == c))
        fp, fn = np.sum((y_pred == c) & (y_true != c)), np.sum((y_pred != c) & (y_true == c))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1))


@torch.inference_mode()
def evaluate(model, encoded, cfg, device, amp):
    """Accuracy, macro-F1, per-example predictions and log-probabilities (in dataset order). Never mixes."""
    model.eval()
    log_probs = None  # (N, C) float32, allocated at the first batch (C = the model's number of classes)
    preds = np.empty(len(encoded), dtype=np.int64)
    labels = np.empty(len(encoded), dtype=np.int64)
    # sorted by length (bucket, no shuffle): little padding; predictions go back by example index
    for batch in Batcher(encoded, batch_size=cfg.eval_batch_size, shuffle=False, bucket=True).epoch(0):
        b = to_device(batch, device)
        with amp():
            logits = model(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        idx = batch["index"].numpy()
        if log_probs is None:
            log_probs = np.empty((len(encoded), logits.shape[-1]), dtype=np.float32)
        log_probs[idx] = logits.float().log_softmax(-1).cpu().numpy()
        preds[idx] = logits.argmax(-1).cpu().numpy()
        labels[idx] = batch["labels"].numpy()
    return {"acc": float(np.mean(preds == labels)), "f1": macro_f1(labels, preds), "preds": preds, "labels": labels,
            "log_probs": log_probs}


def train_step(model, method, batch, optimizer, rng, gen, device, amp, max_grad_norm=None, lams=None):
    """One optimiser step of `method`: draw λ/perm, one mixed forward pass, the mixed loss, update.
    Returns the loss, detached and on the device; appends λ to `lams` if given: the float64 draw (1 in an epoch
    without mixing; a draw that rounds to 1 in float32, a step that mixes nothing, is logged as drawn)."""
    plan = method.plan(batch["labels"].shape[0], rng, gen, device)
    batch = method.prepare(model, batch, plan, amp)  # SSMix: saliency pass and token mixing; others: as is
    with amp():
        logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], mix=method.mixer(plan))
    loss = method.loss(logits.float(), batch["labels"], plan)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    if lams is not None:
        lams.append(plan.lam_value)
    return loss.detach()


def total_steps(cfg, batches_per_epoch):
    """The run's optimiser steps if it never stops early: the step budget, else every epoch; --max-steps if fewer."""
    total = cfg.step_budget or batches_per_epoch * cfg.epochs
    return total if cfg.max_steps is None else min(cfg.max_steps, total)


def steps_to_log(log, epoch, step, buf, lrs, lams, done, n):
    """The losses of an epoch's steps done..n-1 (the last of them is `step`), handed to the log; a non-finite one
    fails the run. Called at each dev evaluation and at each epoch's end."""
    part = buf[done:n].tolist()
    log.epoch_steps(epoch + 1, step - (n - done), part, lrs[done:n], lams[done:n])
    if not all(map(math.isfinite, part)):
        raise NonFiniteLoss(f"non-finite loss in epoch {epoch + 1}; try a lower --lr")
    return part


def autocast_for(device):
    if device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return lambda: torch.autocast("cpu", enabled=False)


def peak_memory_mb(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB (process peak RSS)


class NonFiniteLoss(RuntimeError):
    pass


@dataclass
class Run:
    """What one run trains with, built once by `setup`, and where its outputs go."""

    cfg: TrainConfig
    device: torch.device
    amp: object  # autocast_for(device)
    model: torch.nn.Module
    model_info: dict
    data: Data
    method: object  # amplify/methods.py (or a user's class)
    optimizer: AdamW
    batcher: Batcher
    total: int  # optimiser steps if it never stops early
    warm: int  # of them, warm-up steps
    rng: np.random.Generator  # the mixing draws' generators (seeded_generators)
    gen: torch.Generator
    log: RunLog
    env: dict
    t_start: float
    progress: bool = True
    checkpoint: Path | None = None
    computed: dict = field(default_factory=dict)  # what a checkpoint must match (the config, a user method's hash)


@dataclass
class Loop:
    """The training loop's state: what a checkpoint saves and a resumed run starts from."""

    step: int = 0  # optimiser steps done
    best: dict | None = None  # the best dev evaluation's row (in result["epochs"])
    best_test: dict | None = None  # its test scores, when test is evaluated at every evaluation
    best_state: dict | None = None  # its weights, on the device
    since_best: int = 0  # dev evaluations since it
    losses: list = field(default_factory=list)  # every step's loss
    train_time: float = 0.0
    seg_time: float = 0.0  # training time since the last dev evaluation (it may span epochs)
    wall_before: float = 0.0  # wall time and peak memory of the earlier processes of a resumed run
    peak_before: float = 0.0
    resumed: list = field(default_factory=list)


@dataclass
class Epoch:
    """One epoch's steps so far: their losses (on the device: no sync per step), lrs and λs, and how many of them
    have gone to the log."""

    number: int  # 0-based
    buf: torch.Tensor
    n: int = 0
    done: int = 0
    lrs: list = field(default_factory=list)
    lams: list = field(default_factory=list)
    t0: float = 0.0


def train(cfg, out=None, progress=True, save_model=None, steps_csv=None, tensorboard=None, checkpoint=None):
    """Run one configuration; returns the result dict (and writes it atomically to `out`).

    Outputs beside the result, not part of the config (they change where things go, not what is computed):
    save_model   a directory for the fine-tuned classifier at its best-dev epoch, in Hugging Face's layout
                 (amplify/export.py);
    steps_csv    a CSV of every step's loss, lr and λ (default with `out`: beside it, amplify/logs.py);
    tensorboard  a TensorBoard log directory (needs the optional tensorboard package);
    checkpoint   a file for the run's state at the end of every epoch (amplify/checkpoint.py). If it holds a
                 killed run of the same config, training continues after that run's last finished epoch, with
                 the numbers an uninterrupted run gives. Removed with `out`; otherwise the caller removes it
                 (ckpt.discard) once it has written the result."""
    cfg.validate()
    if steps_csv is None and out is not None:
        steps_csv = steps_csv_path(out)
    log = RunLog(steps_csv, tensorboard)
    t_start = time.perf_counter()
    env = environment()  # at the start: the code that runs (a commit made while it trains is not it)
    env["malloc"] = keep_freed_memory()  # the same numbers, fewer page faults per step (amplify/allocator.py)
    run = setup(cfg, save_model, log, env, t_start, progress, checkpoint)
    result = start_result(run)
    loop = resume(run, result) if checkpoint else Loop()
    try:
        run_epochs(run, loop, result)
        final_test(run, loop, result, save_model)
    except NonFiniteLoss as e:
        result.update(status="failed", error=str(e))
    finish_result(run, loop, result)
    if out is not None:
        write_json_atomic(out, result)
        ckpt.discard(checkpoint)
    return result


def setup(cfg, save_model, log, env, t_start, progress, checkpoint):
    """Build everything the run trains with, in the order that fixes its random numbers: the seed, then the
    classifier head's init (inside `build`), then the data, the method, the optimiser and the batch order."""
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir)
    model, tokenizer, model_info = build(
        cfg.model, ds.num_labels, weights=cfg.weights, pooling=cfg.pooling, max_length=cfg.max_length,
        pretrained=cfg.pretrained,
    )
    if save_model:
        from amplify.export import check_exportable, check_model_dir

        check_exportable(model)  # before training, not after
        check_model_dir(save_model)
    data = prepare_data(cfg, ds, tokenizer)
    check_not_empty(cfg, ds, data)
    model.to(device)
    method = make_method(cfg.method, model.config.num_hidden_layers, alpha=cfg.alpha, label_perm=cfg.label_perm,
                         n_draws=cfg.n_draws, amplify_layers=cfg.amplify_layers, mix_epochs=cfg.mix_epochs,
                         ssmix_clean_loss=cfg.ssmix_clean_loss, label_smoothing=cfg.label_smoothing,
                         method_options=cfg.method_options)
    optimizer = AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
    batcher = Batcher(data.train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, bucket=cfg.bucket)
    total = total_steps(cfg, len(batcher))
    rng, gen = seeded_generators(cfg.seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return Run(cfg, device, autocast_for(device), model, model_info, data, method, optimizer, batcher, total,
               warmup_steps(total, cfg.warmup_ratio), rng, gen, log, env, t_start, progress, checkpoint)


def check_not_empty(cfg, ds, data):
    for split in ("train", "dev", "test"):
        if len(getattr(data, split)) == 0:
            files = ", ".join(f["path"] for f in ds.info.get("files", []))
            raise ValueError(f"{cfg.dataset} has no {split} examples (files: {files} in {ds.info.get('data_dir')}); "
                             "is a file empty or cut short? python -m data.download fetches it again")


def start_result(run):
    """The result dict before training (status "running"); also sets what a checkpoint must match."""
    cfg, device = run.cfg, run.device
    result = {"schema": 1, "status": "running", "error": None, "config": asdict(cfg), "method": run.method.describe(),
              "model": {**run.model_info, "n_params": run.model.num_params()}, "data": run.data.info,
              "device": str(device), "dtype": "bf16-autocast" if device.type == "cuda" else "fp32", "epochs": []}
    run.computed = asdict(cfg)  # for a user's method, its source file's hash too
    if is_spec(cfg.method):
        run.computed["method_source"] = result["method"]["source_sha256"] = source_hash(cfg.method)
    return result


def resume(run, result):
    """The loop state of a killed run of the same config from `run.checkpoint` (weights, optimiser and generators
    put back in place), or a fresh Loop when there is none to use (saying why)."""
    saved, why = ckpt.load(run.checkpoint, run.computed, ignore=NOT_COMPUTED)
    if why:
        print(f"checkpoint: {why}", file=sys.stderr)
    if saved is None:
        return Loop()
    saved_loop, best_state, run.log.rows = ckpt.restore(saved, run.model, run.optimizer, run.rng, run.gen, run.device)
    result["epochs"] = saved_loop["epochs"]
    loop = Loop(step=saved_loop["step"], best_test=saved_loop["best_test"], best_state=best_state,
                since_best=saved_loop["since_best"], losses=saved_loop["losses"],
                train_time=saved_loop["train_time"], wall_before=saved_loop["wall_time_s"],
                peak_before=saved_loop["peak_memory_mb"])
    loop.best = result["epochs"][saved_loop.get("best_row", saved_loop["best_epoch"] - 1)]  # old: a row per epoch
    loop.resumed = saved_loop["resumed"] + [{"after_epoch": saved["epoch"], "after_step": loop.step,
                                             "env": saved_loop["env"]}]
    where = ckpt.position(saved) + ("" if run.cfg.eval_every else f" (step {loop.step})")
    print(f"checkpoint: resuming {run.checkpoint} after {where}; delete it to start over", file=sys.stderr)
    if saved_loop["env"].get("torch_threads") != run.env["torch_threads"]:  # float sums split differently
        print(f"checkpoint: the run so far used {saved_loop['env'].get('torch_threads')} threads, this process "
              f"{run.env['torch_threads']}: its numbers equal an uninterrupted run's to float rounding, not bit for "
              "bit (--threads sets the count)", file=sys.stderr)
    return loop


def run_epochs(run, loop, result):
    """Train epoch after epoch (a resumed run from inside the epoch it stopped in) until early stopping or the
    last step."""
    n_epochs = math.ceil(run.total / len(run.batcher))
    for epoch in range(loop.step // len(run.batcher), n_epochs):
        if train_epoch(run, loop, result, epoch, n_epochs):
            return


def train_epoch(run, loop, result, epoch, n_epochs):
    """One epoch's steps and the dev evaluations that fall in it: after every `eval_every` steps (default: the
    epoch's last) and after the budget's last step. Returns True when the run stops."""
    cfg, batcher = run.cfg, run.batcher
    every = cfg.eval_every or len(batcher)
    run.model.train()
    run.method.start_epoch(epoch + 1)
    skip = loop.step - epoch * len(batcher)  # > 0 only in the epoch where a resumed run's checkpoint was taken
    ep = Epoch(epoch, buf=torch.zeros(len(batcher) - skip, device=run.device))
    bar = tqdm(itertools.islice(batcher.epoch(epoch), skip, None), total=len(batcher) - skip,
               disable=None if run.progress else True, leave=False,
               desc=f"{cfg.method} {cfg.dataset} s{cfg.seed} ep{epoch + 1}/{n_epochs}")
    ep.t0 = time.perf_counter()
    for batch in bar:
        lr = take_step(run, loop, ep, batch, bar)
        if loop.step % every and loop.step < run.total:
            continue
        if dev_evaluation(run, loop, ep, result, lr):
            return True
        run.model.train()
        ep.t0, loop.seg_time = time.perf_counter(), 0.0
    # the epoch ended after its last evaluation (with eval_every): its remaining steps go to the log now
    end_segment(run, loop, ep)
    return False


def take_step(run, loop, ep, batch, bar):
    """One optimiser step at the schedule's lr; every `log_every` steps (every step on CPU, where reading the loss
    costs nothing) a non-finite loss fails the run. Returns the lr."""
    cfg = run.cfg
    lr = cosine_with_warmup(loop.step, run.total, run.warm, cfg.lr)
    set_lr(run.optimizer, lr)
    ep.buf[ep.n] = train_step(run.model, run.method, to_device(batch, run.device), run.optimizer, run.rng, run.gen,
                              run.device, run.amp, cfg.max_grad_norm, lams=ep.lams)
    run.env["malloc"] = after_step()  # a fragmenting heap goes back to glibc's default (amplify/allocator.py)
    ep.lrs.append(lr)
    ep.n, loop.step = ep.n + 1, loop.step + 1
    if ep.n % cfg.log_every == 0 or run.device.type == "cpu":
        recent = ep.buf[max(0, ep.n - cfg.log_every):ep.n]
        if not torch.isfinite(recent).all():
            raise NonFiniteLoss(f"loss became {recent[~torch.isfinite(recent)][0].item()} near step "
                                f"{loop.step} (epoch {ep.number + 1}); try a lower --lr")
        if ep.n % cfg.log_every == 0:
            bar.set_postfix(loss=f"{recent.mean().item():.4f}", lr=f"{lr:.2e}")
    return lr


def end_segment(run, loop, ep, evaluation=False):
    """Close the training time since the last evaluation (or the epoch's start), counted into the run's training
    time at an evaluation, and hand the steps' losses to the log."""
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    loop.seg_time += time.perf_counter() - ep.t0
    if evaluation:
        loop.train_time += loop.seg_time
    loop.losses += steps_to_log(run.log, ep.number, loop.step, ep.buf, ep.lrs, ep.lams, ep.done, ep.n)
    ep.done = ep.n


def dev_evaluation(run, loop, ep, result, lr):
    """Evaluate dev (and test with eval_test_each_epoch), add the row, track the best; checkpoint unless the run
    stops here. Returns True when it stops: patience run out, or the last step done."""
    cfg = run.cfg
    end_segment(run, loop, ep, evaluation=True)
    dev = evaluate(run.model, run.data.dev, cfg, run.device, run.amp)
    test = evaluate(run.model, run.data.test, cfg, run.device, run.amp) if cfg.eval_test_each_epoch else None
    since = result["epochs"][-1]["steps"] if result["epochs"] else 0
    row = {"epoch": ep.number + 1, "steps": loop.step, "train_loss": float(np.mean(loop.losses[since:])),
           "dev_acc": dev["acc"], "dev_f1": dev["f1"], "test_acc": test and test["acc"],
           "test_f1": test and test["f1"], "train_time_s": loop.seg_time, "lr": lr}
    result["epochs"].append(row)
    run.log.epoch_end(row)
    if run.progress:
        shown = "" if test is None else f" | test {test['acc']:.4f}"
        where = f"step {loop.step:5d}" if cfg.eval_every else f"epoch {ep.number + 1:2d}"
        tqdm.write(f"{where} | loss {row['train_loss']:.4f} | dev {dev['acc']:.4f}{shown} | "
                   f"{loop.seg_time:.1f}s", file=sys.stderr)  # stdout: results
    if loop.best is None or dev["acc"] > loop.best["dev_acc"]:
        # Only the best-dev evaluation's test accuracy is reported, so test is evaluated once, at the end, on
        # these weights (kept in memory: a copy of the state dict, on the device).
        loop.best, loop.best_test, loop.since_best = row, test, 0
        loop.best_state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    else:
        loop.since_best += 1
    if loop.since_best >= cfg.patience or loop.step >= run.total:
        return True
    if run.checkpoint:
        save_checkpoint(run, loop, result, row)
    return False


def save_checkpoint(run, loop, result, row):
    """The loop's state after the evaluation that gave `row` (amplify/checkpoint.py)."""
    saved = {"step": loop.step, "since_best": loop.since_best, "losses": loop.losses, "train_time": loop.train_time,
             "epochs": result["epochs"], "best_epoch": loop.best["epoch"],
             "best_row": result["epochs"].index(loop.best), "best_test": loop.best_test,
             "wall_time_s": loop.wall_before + time.perf_counter() - run.t_start,
             "peak_memory_mb": max(loop.peak_before, peak_memory_mb(run.device)), "resumed": loop.resumed,
             "env": run.env}
    why = ckpt.save(run.checkpoint, config=run.computed, epoch=loop.step // len(run.batcher), model=run.model,
                    optimizer=run.optimizer, rng=run.rng, gen=run.gen, device=run.device, loop=saved,
                    best_state=None if loop.best is row else loop.best_state, log_rows=run.log.rows)
    if why:
        print(f"checkpoint: {why}", file=sys.stderr)


def final_test(run, loop, result, save_model):
    """Test the best dev evaluation's weights (once, unless test was evaluated at every evaluation), save them
    as a model if asked, and put the outcome in the result."""
    row, test = loop.best, loop.best_test
    if test is None:
        if row is not result["epochs"][-1]:
            run.model.load_state_dict(loop.best_state)
        if not save_model:
            loop.best_state = None  # free that copy of the weights before testing
        test = evaluate(run.model, run.data.test, run.cfg, run.device, run.amp)  # what that epoch would have measured
        row.update(test_acc=test["acc"], test_f1=test["f1"])
    run.log.best(row)
    if save_model:
        saved = write_best_model(run, loop.best_state, save_model)
        if saved is not None:
            result["saved_model"] = saved
        loop.best_state = None
    result.update(status="ok", best_epoch=row["epoch"], best_step=row["steps"], best_dev_acc=row["dev_acc"],
                  test_acc=row["test_acc"], test_f1=row["test_f1"], test_predictions=test["preds"].tolist(),
                  test_labels=test["labels"].tolist(), test_probs=pack_log_probs(test["log_probs"]))


def write_best_model(run, state, save_model):
    """Write the classifier with the weights `state` to `save_model` (Hugging Face's layout); if that fails, to a
    temporary folder instead, saying so. Returns the path written, or None when neither takes it."""
    from amplify.export import save_model as write_model

    vocab = Path(run.model_info["dir"]) / "vocab.txt"
    saving = dict(label_names=run.data.info["label_names"], vocab=vocab, max_length=run.cfg.max_length, state=state)
    try:
        return str(write_model(run.model, save_model, **saving))
    except OSError as e:  # disk full, permissions, a folder made there during training: keep the model
        try:
            fallback = write_model(run.model, Path(tempfile.mkdtemp(prefix="amplify-model-")) / "model", **saving)
            print(f"save model: {lost_write(save_model, e, fallback)}", file=sys.stderr)
            return str(fallback)
        except OSError as e2:
            print(f"save model: could not write {save_model} ({e}) nor a copy in the temporary directory "
                  f"({e2}); the result is written without it", file=sys.stderr)
            return None


def finish_result(run, loop, result):
    """Add the losses, timings, memory and environment to the result (ok or failed), and close the logs."""
    step, train_time = loop.step, loop.train_time
    result.update(train_loss_steps=loop.losses, steps=step, train_time_s=train_time,
                  mean_step_s=train_time / max(step, 1),
                  samples_per_s=step * run.cfg.batch_size / max(train_time, 1e-9),
                  wall_time_s=loop.wall_before + time.perf_counter() - run.t_start,
                  peak_memory_mb=max(loop.peak_before, peak_memory_mb(run.device)), env=run.env)
    if loop.resumed:
        result["resumed"] = loop.resumed  # after which epochs, and each earlier process's code and machine
    run.log.close()
