"""Training data: readers (webdataset, HF/parquet, JSONL), the sample format, transforms, CFG dropout, mixing."""

from .check import check_dataset
from .dropout import DropoutConfig, apply_cfg_dropout
from ..errors import DataError
from .factory import build_dataset, build_reader, detect_type
from .hf_reader import HFReader
from .jsonl_reader import JsonlReader
from .mixing import MixedStream
from .sample import collate, make_sample
from .stats import DataStats
from .stream import SampleStream
from .transforms import TargetTransform
from .webdataset_reader import WebDatasetReader

__all__ = [
    "DataError",
    "DataStats",
    "DropoutConfig",
    "HFReader",
    "JsonlReader",
    "MixedStream",
    "SampleStream",
    "TargetTransform",
    "WebDatasetReader",
    "apply_cfg_dropout",
    "build_dataset",
    "build_reader",
    "check_dataset",
    "collate",
    "detect_type",
    "make_sample",
]
