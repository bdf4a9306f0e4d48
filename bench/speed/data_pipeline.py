"""
python -m bench.data_speed [--data-dir DIR] [--model-dir DIR] [--repeats 5] [--imdb]

Times the data pipeline against these budgets (on a 2-core CPU):

  tokenize SST-5 train from scratch   <= 2 s     data.batching.encode into an empty cache folder
                                                  (content hash + tokenize + flatten + write .npz)
  load SST-5 train from the cache     <= 0.2 s   encode() again: content hash + read + verify
  collate one batch of 32             <= 1 ms    Batcher.collate on random batches of SST-5 train

Each figure is the median over --repeats runs (collate: over 1000 batches). --imdb also times reading
the 50,000 IMDB reviews out of the tarball (load_dataset("imdb")). This is a benchmark, not a test:
nothing here fails, it prints the figures next to their budgets.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from data import load_dataset
from data.batching import Batcher, encode
from data.stats import default_model_dir
from model.tokenizer import WordPieceTokenizer


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.data_speed", description=__doc__.split("\n\n")[1])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--imdb", action="store_true", help="also time reading IMDB")
    args = ap.parse_args(argv)

    tok = WordPieceTokenizer.from_dir(args.model_dir or default_model_dir(), max_length=256)
    train = load_dataset("sst-5", args.data_dir).train
    rows = []

    def scratch():
        with tempfile.TemporaryDirectory() as d:
            enc = encode(train, tok, cache_dir=d, name="sst-5/train")
            assert not enc.from_cache

    rows.append(("tokenize SST-5 train from scratch", timed(scratch, args.repeats), 2.0))

    with tempfile.TemporaryDirectory() as d:
        encode(train, tok, cache_dir=d, name="sst-5/train")

        def cached():
            assert encode(train, tok, cache_dir=d, name="sst-5/train").from_cache

        rows.append(("load SST-5 train from the cache", timed(cached, args.repeats), 0.2))
        enc = encode(train, tok, cache_dir=d, name="sst-5/train")

    batcher = Batcher(enc, batch_size=32)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(enc), 32, replace=False) for _ in range(1000)]
    t = []
    for idx in batches:
        s = time.perf_counter()
        batcher.collate(idx)
        t.append(time.perf_counter() - s)
    rows.append(("collate one batch of 32", statistics.median(t), 0.001))

    if args.imdb:
        rows.append(("read IMDB (50,000 reviews)", timed(lambda: load_dataset("imdb", args.data_dir), 1), None))

    print(f"SST-5 train: {len(train)} examples, {int(enc.lengths.sum())} tokens; "
          f"tokenizer {Path(tok.vocab_path).parent.name}/vocab.txt, max_length {tok.max_length}")
    for what, secs, budget in rows:
        verdict = "" if budget is None else f"  (budget {budget * 1e3:g} ms: {'ok' if secs <= budget else 'OVER'})"
        print(f"  {what:<36} {secs * 1e3:9.3f} ms{verdict}")


if __name__ == "__main__":
    from amplify.cli import entry

    entry(main)
