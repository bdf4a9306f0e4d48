"""
Model FLOPs utilisation for bench.speed: the useful work of a step, and the peak it is measured against.

    useful_flops(model, batch)                 # FLOPs the classifier's output needs (real tokens, rows read)
    GemmPeak(cfg, n_rows, device).peak()       # CPU: the best rate on the model's own GEMM shapes, now
    lookup_peak_tflops(device_name)            # CUDA: the data-sheet dense bf16 peak, by GPU name
"""

import time

import torch

from bench.speed.timing import sync

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's data sheets, in TFLOP/s. Matched against
# torch.cuda.get_device_name() in this order (the first entry whose words all appear wins).
PEAK_BF16_TFLOPS = (
    (("h100", "pcie"), 756.0),
    (("h100", "nvl"), 835.0),
    (("h100",), 989.0),  # SXM5 (reported as "NVIDIA H100 80GB HBM3")
    (("h200",), 989.0),
    (("a100",), 312.0),
)


def lookup_peak_tflops(device_name):
    name = device_name.lower()
    for words, tflops in PEAK_BF16_TFLOPS:
        if all(w in name for w in words):
            return tflops
    return None


def useful_flops(model, batch):
    """Training FLOPs that the classifier's output needs: sum over examples of n·(6N + 12·L·d·n), n its
    length, less, with the pooler (it reads [CLS] only), the last block's work for the other n - 1
    positions: their query and output projections and feed-forward (6 FLOPs per weight each) and their
    attention (12·d·n each). Padding and rows nobody reads are not useful work: a model that computes
    them gets no credit for them in MFU."""
    c, d = model.config, model.config.hidden_size
    n = batch["attention_mask"].sum(1).tolist()
    if getattr(model, "pooling", "pooler") != "pooler":  # a mean reads every position of the last block
        return float(sum(k * model.flops_per_token(k) for k in n))
    unread = 6 * (2 * d**2 + 2 * d * c.intermediate_size)  # per position: q, attention output, feed-forward
    return float(sum(k * model.flops_per_token(k) - (k - 1) * (unread + 12 * d * k) for k in n))


class GemmPeak:
    """The best FLOP rate this device reaches on the model's own GEMMs, at the current thread count: the
    linear layers' forward (x·Wᵀ) and backward (dy·W, dyᵀ·x) products for q/k/v, the attention output
    and the feed-forward layers, with `n_rows` token rows. MFU on CPU is measured against it: a CPU has
    no data-sheet peak that holds for small matrices, AVX-512 clocks and a shared machine.

    `peak()` measures it now, in TFLOP/s. bench.speed calls it once in every timed round, beside the
    steps, and sets each round's steps against that round's peak: what one moment of a shared CPU
    reaches is not what the next does (measured once before the rounds, on this project's 2-core machine,
    it read 0.100 TFLOP/s one day and 0.142 another at 430 rows, and once 0.107 at 2048 rows, of which
    the steps that followed then reached 96-101%)."""

    def __init__(self, cfg, n_rows, device):
        d, f = cfg.hidden_size, cfg.intermediate_size
        self.device, self.products = device, []  # (a, b, FLOPs of a @ b)
        for k, m in ((d, 3 * d), (d, d), (d, f), (f, d)):
            x, w, dy = (torch.randn(*s, device=device) for s in ((n_rows, k), (m, k), (n_rows, m)))
            self.products += [(a, b, 2 * n_rows * k * m) for a, b in ((x, w.t()), (dy, w), (dy.t(), x))]
        self.peak(reps=1)  # first calls: MKL's set-up, not its rate

    def peak(self, reps=3):
        best = 0.0
        for a, b, flops in self.products:
            for _ in range(reps):
                sync(self.device)
                t0 = time.perf_counter()
                torch.matmul(a, b)
                sync(self.device)
                best = max(best, flops / (time.perf_counter() - t0))
        return best / 1e12
