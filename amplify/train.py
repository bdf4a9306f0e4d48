"""
Fine-tune a BERT classifier with one mixup method: the paper's recipe as a plain loop.

    cfg = TrainConfig(method="amplify", dataset="trec-fine")
    result = train(cfg, out="results/run.json")

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
    alpha: float | None = None  # Beta(α, α); None = the method's default (0.2, AMPLIFY 0.1)
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
        if bad:
            raise ValueError("; ".join(bad))
        return self


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
    for split in ("train", "dev", "test"):
        if len(getattr(data, split)) == 0:
            files = ", ".join(f["path"] for f in ds.info.get("files", []))
            raise ValueError(f"{cfg.dataset} has no {split} examples (files: {files} in {ds.info.get('data_dir')}); "
                             "is a file empty or cut short? python -m data.download fetches it again")
    model.to(device)
    method = make_method(cfg.method, model.config.num_hidden_layers, alpha=cfg.alpha, label_perm=cfg.label_perm,
                         n_draws=cfg.n_draws, amplify_layers=cfg.amplify_layers, mix_epochs=cfg.mix_epochs,
                         ssmix_clean_loss=cfg.ssmix_clean_loss, label_smoothing=cfg.label_smoothing,
                         method_options=cfg.method_options)
    optimizer = AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
    batcher = Batcher(data.train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, bucket=cfg.bucket)
    total = total_steps(cfg, len(batcher))
    warm = warmup_steps(total, cfg.warmup_ratio)
    rng, gen = seeded_generators(cfg.seed)
    amp = autocast_for(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    result = {"schema": 1, "status": "running", "error": None, "config": asdict(cfg), "method": method.describe(),
              "model": {**model_info, "n_params": model.num_params()}, "data": data.info, "device": str(device),
              "dtype": "bf16-autocast" if device.type == "cuda" else "fp32", "epochs": []}
    computed = asdict(cfg)  # what a checkpoint must match; for a user's method, its source file's hash too
    if is_spec(cfg.method):
        computed["method_source"] = result["method"]["source_sha256"] = source_hash(cfg.method)
    every = cfg.eval_every or len(batcher)  # dev after every `every` steps (default: each epoch's last) and the last
    step, best, best_test, since_best, losses, train_time = 0, None, None, 0, [], 0.0
    wall_before, peak_before, resumed = 0.0, 0.0, []  # the earlier processes of a resumed run
    saved, why = ckpt.load(checkpoint, computed, ignore=NOT_COMPUTED) if checkpoint else (None, None)
    if why:
        print(f"checkpoint: {why}", file=sys.stderr)
    if saved is not None:
        loop, best_state, log.rows = ckpt.restore(saved, model, optimizer, rng, gen, device)
        step, since_best, losses = loop["step"], loop["since_best"], loop["losses"]
        train_time, result["epochs"], best_test = loop["train_time"], loop["epochs"], loop["best_test"]
        best = result["epochs"][loop.get("best_row", loop["best_epoch"] - 1)]  # older files: one row per epoch
        wall_before, peak_before = loop["wall_time_s"], loop["peak_memory_mb"]
        resumed = loop["resumed"] + [{"after_epoch": saved["epoch"], "after_step": step, "env": loop["env"]}]
        where = ckpt.position(saved) + ("" if cfg.eval_every else f" (step {step})")
        print(f"checkpoint: resuming {checkpoint} after {where}; delete it to start over", file=sys.stderr)
        if loop["env"].get("torch_threads") != env["torch_threads"]:  # float sums split differently
            print(f"checkpoint: the run so far used {loop['env'].get('torch_threads')} threads, this process "
                  f"{env['torch_threads']}: its numbers equal an uninterrupted run's to float rounding, not bit for "
                  "bit (--threads sets the count)", file=sys.stderr)
    try:
        n_epochs, stop = math.ceil(total / len(batcher)), False
        seg_time = 0.0  # training time since the last dev evaluation (it may span epochs)
        for epoch in range(step // len(batcher), n_epochs):
            model.train()
            method.start_epoch(epoch + 1)
            skip = step - epoch * len(batcher)  # > 0 only in the epoch where a resumed run's checkpoint was taken
            buf = torch.zeros(len(batcher) - skip, device=device)  # losses stay on the device: no sync per step
            n, done, lrs, lams = 0, 0, [], []  # steps of this epoch so far, and how many of them are in `losses`
            bar = tqdm(itertools.islice(batcher.epoch(epoch), skip, None), total=len(batcher) - skip,
                       disable=None if progress else True, leave=False,
                       desc=f"{cfg.method} {cfg.dataset} s{cfg.seed} ep{epoch + 1}/{n_epochs}")
            t0 = time.perf_counter()
            for batch in bar:
                lr = cosine_with_warmup(step, total, warm, cfg.lr)
                set_lr(optimizer, lr)
                buf[n] = train_step(model, method, to_device(batch, device), optimizer, rng, gen, device, amp,
                                    cfg.max_grad_norm, lams=lams)
                env["malloc"] = after_step()  # a fragmenting heap goes back to glibc's default (amplify/allocator.py)
                lrs.append(lr)
                n, step = n + 1, step + 1
                if n % cfg.log_every == 0 or device.type == "cpu":
                    recent = buf[max(0, n - cfg.log_every):n]
                    if not torch.isfinite(recent).all():
                        raise NonFiniteLoss(f"loss became {recent[~torch.isfinite(recent)][0].item()} near step "
                                            f"{step} (epoch {epoch + 1}); try a lower --lr")
                    if n % cfg.log_every == 0:
                        bar.set_postfix(loss=f"{recent.mean().item():.4f}", lr=f"{lr:.2e}")
                if step % every and step < total:
                    continue
                # a dev evaluation: after every `every` steps and after the last step of the budget
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seg_time += time.perf_counter() - t0
                train_time += seg_time
                losses += steps_to_log(log, epoch, step, buf, lrs, lams, done, n)
                done = n
                dev = evaluate(model, data.dev, cfg, device, amp)
                test = evaluate(model, data.test, cfg, device, amp) if cfg.eval_test_each_epoch else None
                since = result["epochs"][-1]["steps"] if result["epochs"] else 0
                row = {"epoch": epoch + 1, "steps": step, "train_loss": float(np.mean(losses[since:])),
                       "dev_acc": dev["acc"], "dev_f1": dev["f1"], "test_acc": test and test["acc"],
                       "test_f1": test and test["f1"], "train_time_s": seg_time, "lr": lr}
                result["epochs"].append(row)
                log.epoch_end(row)
                if progress:
                    shown = "" if test is None else f" | test {test['acc']:.4f}"
                    where = f"step {step:5d}" if cfg.eval_every else f"epoch {epoch + 1:2d}"
                    tqdm.write(f"{where} | loss {row['train_loss']:.4f} | dev {dev['acc']:.4f}{shown} | "
                               f"{seg_time:.1f}s", file=sys.stderr)  # stdout: results
                if best is None or dev["acc"] > best["dev_acc"]:
                    # Only the best-dev evaluation's test accuracy is reported, so test is evaluated once, at the
                    # end, on these weights (kept in memory: a copy of the state dict, on the device).
                    best, best_test, since_best = row, test, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    since_best += 1
                if since_best >= cfg.patience or step >= total:
                    stop = True
                    break
                if checkpoint:
                    loop = {"step": step, "since_best": since_best, "losses": losses, "train_time": train_time,
                            "epochs": result["epochs"], "best_epoch": best["epoch"],
                            "best_row": result["epochs"].index(best), "best_test": best_test,
                            "wall_time_s": wall_before + time.perf_counter() - t_start,
                            "peak_memory_mb": max(peak_before, peak_memory_mb(device)), "resumed": resumed, "env": env}
                    why = ckpt.save(checkpoint, config=computed, epoch=step // len(batcher), model=model,
                                    optimizer=optimizer, rng=rng, gen=gen, device=device, loop=loop,
                                    best_state=None if best is row else best_state, log_rows=log.rows)
                    if why:
                        print(f"checkpoint: {why}", file=sys.stderr)
                model.train()
                t0, seg_time = time.perf_counter(), 0.0
            if stop:
                break
            # the epoch ended after its last evaluation (with eval_every): its remaining steps go to the log now
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seg_time += time.perf_counter() - t0
            losses += steps_to_log(log, epoch, step, buf, lrs, lams, done, n)
        row, test = best, best_test
        if test is None:
            if row is not result["epochs"][-1]:
                model.load_state_dict(best_state)
            if not save_model:
                del best_state
            test = evaluate(model, data.test, cfg, device, amp)  # what that epoch would have measured
            row.update(test_acc=test["acc"], test_f1=test["f1"])
        log.best(row)
        if save_model:
            from amplify.export import save_model as write_model

            vocab = Path(model_info["dir"]) / "vocab.txt"
            saving = dict(label_names=data.info["label_names"], vocab=vocab, max_length=cfg.max_length,
                          state=best_state)
            try:
                result["saved_model"] = str(write_model(model, save_model, **saving))
            except OSError as e:  # disk full, permissions, a folder made there during training: keep the model
                try:
                    fallback = write_model(model, Path(tempfile.mkdtemp(prefix="amplify-model-")) / "model", **saving)
                    result["saved_model"] = str(fallback)
                    print(f"save model: {lost_write(save_model, e, fallback)}", file=sys.stderr)
                except OSError as e2:
                    print(f"save model: could not write {save_model} ({e}) nor a copy in the temporary directory "
                          f"({e2}); the result is written without it", file=sys.stderr)
            del best_state
        result.update(status="ok", best_epoch=row["epoch"], best_step=row["steps"], best_dev_acc=row["dev_acc"],
                      test_acc=row["test_acc"], test_f1=row["test_f1"], test_predictions=test["preds"].tolist(),
                      test_labels=test["labels"].tolist(), test_probs=pack_log_probs(test["log_probs"]))
    except NonFiniteLoss as e:
        result.update(status="failed", error=str(e))
    result.update(train_loss_steps=losses, steps=step, train_time_s=train_time,
                  mean_step_s=train_time / max(step, 1), samples_per_s=step * cfg.batch_size / max(train_time, 1e-9),
                  wall_time_s=wall_before + time.perf_counter() - t_start,
                  peak_memory_mb=max(peak_before, peak_memory_mb(device)), env=env)
    if resumed:
        result["resumed"] = resumed  # after which epochs, and each earlier process's code and machine
    log.close()
    if out is not None:
        write_json_atomic(out, result)
        ckpt.discard(checkpoint)
    return result
