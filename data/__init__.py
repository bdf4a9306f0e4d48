"""
The data package: readers for the paper's seven datasets, their splits, noise injection, tokenisation
cache and batching. Read in this order:

  data/common.py    Example, errors, the data directory, line reading, the fixed dev-split rule
  data/sources.py   which files each dataset needs, official URLs and checksums
  data/readers.py   hand-written readers for the official formats
  data/load.py      load_dataset(name) -> Dataset(train, dev, test, label_names, info)
  data/noise.py     word deletion / swap noise for the training texts (paper Tables 4 and 5)
  data/fewshot.py   few_shot(ds, K, seed): K examples per class of train and dev; python -m data.fewshot
  data/batching.py  encode() with an on-disk token cache, and Batcher
  data/download.py  python -m data.download NAME
  data/stats.py     python -m data.stats

This package never imports model, amplify or bench: they import it.
"""

from data.common import DataFormatError, DataMissingError, Example
from data.load import Dataset, load_dataset
from data.sources import DATASETS

__all__ = ["DATASETS", "DataFormatError", "DataMissingError", "Dataset", "Example", "load_dataset"]
