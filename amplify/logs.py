"""
Per-step logs of one run, beside its result JSON, and optional TensorBoard.

    RUN.steps.csv   one row per optimiser step: step, epoch, loss, lr, lam (λ = 1 on steps that do not mix),
                    written atomically at the end of the run (for a failed run: its finished epochs); when it
                    cannot be written (disk full, permissions), to the temporary directory, and stderr says where
    --tensorboard   train/loss, train/lr, train/lambda per step; dev/acc, dev/f1 (and test/acc, test/f1
                    where measured) per epoch; test/acc, test/f1 of the best-dev epoch at its step.

The loop hands over each epoch's steps at the end of the epoch (on CUDA the losses stay on the device
during the epoch, amplify/train.py), with explicit step numbers, so the curves are the same either way.
TensorBoard is an optional extra, like matplotlib: `pip install -r requirements-tensorboard.txt`.
"""

import csv
import io
import sys

from amplify.results import lost_write, write_text_or_fallback

TENSORBOARD_MISSING = ("--tensorboard needs the tensorboard package, which is not installed: "
                       "pip install -r requirements-tensorboard.txt (it does not change torch)")


def tensorboard_writer(log_dir):
    """A SummaryWriter on log_dir; ImportError with the install command when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch raises this when the tensorboard package is absent
        raise ImportError(TENSORBOARD_MISSING) from e
    return SummaryWriter(log_dir=str(log_dir))


def check_tensorboard():
    """Fail before training, not after, when --tensorboard cannot work."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as e:
        raise ImportError(TENSORBOARD_MISSING) from e


class RunLog:
    """Collects a run's steps and epochs; writes steps_csv (a path or None) and TensorBoard (a dir or None)."""

    COLUMNS = ("step", "epoch", "loss", "lr", "lam")

    def __init__(self, steps_csv=None, tensorboard=None):
        self.steps_csv, self.rows = steps_csv, []
        self.tb = tensorboard_writer(tensorboard) if tensorboard else None

    def epoch_steps(self, epoch, first_step, losses, lrs, lams):
        """The steps of one epoch (1-based epoch; steps numbered from first_step + 1)."""
        lams = list(lams) + [float("nan")] * (len(losses) - len(lams))  # nan: a step that reported no λ
        for i, (loss, lr, lam) in enumerate(zip(losses, lrs, lams, strict=True)):
            step = first_step + i + 1
            self.rows.append((step, epoch, loss, lr, lam))
            if self.tb:
                self.tb.add_scalar("train/loss", loss, step)
                self.tb.add_scalar("train/lr", lr, step)
                self.tb.add_scalar("train/lambda", lam, step)

    def epoch_end(self, row):
        """One row of result["epochs"]: dev (and test, if measured) at the epoch's last step."""
        if self.tb:
            for split in ("dev", "test"):
                for metric in ("acc", "f1"):
                    value = row.get(f"{split}_{metric}")
                    if value is not None:
                        self.tb.add_scalar(f"{split}/{metric}", value, row["steps"])
            self.tb.flush()

    def best(self, row):
        """The best-dev epoch's test scores, measured once at the end (unless measured every epoch)."""
        if self.tb:
            self.tb.add_scalar("best/test_acc", row["test_acc"], row["steps"])
            self.tb.add_scalar("best/test_f1", row["test_f1"], row["steps"])

    def close(self):
        if self.steps_csv is not None:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(self.COLUMNS)
            w.writerows((s, e, *(repr(float(x)) for x in rest)) for s, e, *rest in self.rows)
            try:
                written, error = write_text_or_fallback(self.steps_csv, buf.getvalue())
            except OSError as e:  # not even the temporary directory: the result JSON holds the losses too
                written, error = None, e
            if error is not None:  # disk full, permissions: the run goes on to write its result all the same
                print(f"steps log: {lost_write(self.steps_csv, error, written)}", file=sys.stderr)
        if self.tb:
            self.tb.close()


def steps_csv_path(result_path):
    """results/x.json -> results/x.steps.csv"""
    from pathlib import Path

    p = Path(result_path)
    return p.with_name(p.stem + ".steps.csv")
