"""
How far AMP's step moves λ (docs/adding-a-method.md): examples/amp.py with the size of each step recorded and
printed (to stderr) when the run ends. Subclassing a method to measure it, without touching it:

    python run.py --method examples/amp_step.py:AMPStep --dataset trec-coarse --epochs 1 --train-limit 1600 \\
        --eval-limit 200 --lr 1e-4 --threads 1 --quiet --out /tmp/amp-step.json
"""

import atexit
import sys

import torch

from examples.amp import AMP

STEPS = []  # (mean, max) of |λ' - λ| over the batch, per mixing step


class AMPStep(AMP):
    name = "amp-step"

    def prepare(self, model, batch, plan, amp):
        batch = super().prepare(model, batch, plan, amp)
        if plan.layers:
            moved = (plan.moved - plan.lam).abs()
            STEPS.append((moved.mean().item(), moved.max().item()))
        return batch


@atexit.register
def report():
    if STEPS:
        t = torch.tensor(STEPS)
        print(f"AMP's step over {len(STEPS)} steps: mean |λ' - λ| {t[:, 0].mean():.1e}, largest {t[:, 1].max():.1e}",
              file=sys.stderr)  # stdout is run.py's, for its results
