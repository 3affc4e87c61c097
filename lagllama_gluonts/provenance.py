"""What a Lag-Llama checkpoint was trained on, as a pretraining record for
:func:`~lagllama_gluonts.common.leakage.pretraining_status` (the leakage flags of every
evaluation).

* Our checkpoints (``pretrain``, the bundled one) store their ``sources`` and ``held_out`` list,
  and those of the checkpoint they continued (``init_from``).
* A fine-tuned checkpoint (``finetune --save``) stores the data it was tuned on (``dataset`` or
  ``csv``) and its parent (``fine_tuned_from``), whose record is read in turn when the file is
  there.
* The released Lag-Llama stores no record: it is recognised by its architecture (8 layers x 9
  heads x 16, 84 lags) or by coming from the Hub repository, and its corpus is the one its
  paper and code list (:data:`RELEASED_PRETRAINING`).
* Anything else is "pretraining data unknown".

Kept free of torch imports (the command line imports it); a parent checkpoint is read only
when a record names one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from .common.leakage import trained_here

# The released Lag-Llama's pretraining corpus. Source: the reference code's pretraining run,
# github.com/time-series-foundation-models/lag-llama, ``scripts/pretrain.sh``: ``--all_datasets``
# (the 28 names of ``data/dataset_list.py`` ALL_DATASETS) less ``--test_datasets`` (the seven
# below), which ``run.py`` removes from the training names before training. The paper (Rasul
# et al., "Lag-Llama: Towards Foundation Models for Probabilistic Time Series Forecasting",
# arXiv 2310.08278, Section 5.1 "Datasets" and Appendix A, the corpus's table) describes the
# same split: the seven are its unseen datasets, scored zero-shot (Table 1's columns). Names are
# the reference's; ``ett_h1``/``ett_h2`` are ETTh1/ETTh2, GluonTS's ``ett_small_1h``.
RELEASED_TEST_DATASETS = (
    "weather",
    "pedestrian_counts",
    "exchange_rate",
    "ett_m2",
    "platform_delay_minute",
    "requests_minute",
    "beijing_pm25",
)
RELEASED_PRETRAINING = (
    "australian_electricity_demand",
    "electricity_hourly",
    "london_smart_meters_without_missing",
    "solar_10_minutes",
    "wind_farms_without_missing",
    "uber_tlc_hourly",
    "traffic",
    "kdd_cup_2018_without_missing",
    "saugeenday",
    "sunspot_without_missing",
    "cpu_limit_minute",
    "cpu_usage_minute",
    "function_delay_minute",
    "instances_minute",
    "memory_limit_minute",
    "memory_usage_minute",
    "ett_h1",
    "ett_h2",
    "ett_m1",
    "AirQualityUCI",
    "beijing_multisite",
)
RELEASED_SOURCE = (
    "the released Lag-Llama's pretraining corpus (arXiv 2310.08278, Section 5.1 and Appendix A; "
    "lag-llama scripts/pretrain.sh: --all_datasets less --test_datasets)"
)
# the released checkpoint's shape: a file with no record and these sizes is taken for it
RELEASED_ARCHITECTURE = {"n_layer": 8, "n_head": 9, "n_embd_per_head": 16}
RELEASED_LAGS = 84
RELEASED_HUB_FOLDER = "models--time-series-foundation-models--lag-llama"

# The corpus the bundled checkpoint's ``corpus`` source read (its record counts 12 series but
# does not name them): the shared corpus folder's files but the held-out BeijingPM25_0.csv.
CORPUS_FILES = (
    "SF_PV.csv",
    "SF_hospital_load.csv",
    "births_us.csv",
    "elecdemand_dataset.csv",
    "kaggle_energy_price.csv",
    "load_rte.csv",
    "price_ercot_dam.csv",
    "retail_sales.csv",
    "river_flow_saugeen.csv",
    "sunspots.csv",
    "wp_log_peyton_manning.csv",
    "yosemite_temps.csv",
)
# sources of ours that hold no named data set (synthetic series)
SYNTHETIC_SOURCES = ("kernel_synth", "persistent", "gluonts_artificial", "ts_mixup", "stylized")
MAX_PARENTS = 4  # fine-tuned from fine-tuned from ...: a loop of records stops here


def is_released(checkpoint) -> bool:
    """Whether ``checkpoint`` (a :class:`~lagllama_gluonts.checkpoint.Checkpoint`) is the released
    Lag-Llama: from its Hub repository, or with no record and the released sizes and lags."""
    if RELEASED_HUB_FOLDER in str(checkpoint.path).lower():
        return True
    if checkpoint.training:
        return False
    kwargs = checkpoint.model_kwargs
    sizes = all(kwargs.get(k) == v for k, v in RELEASED_ARCHITECTURE.items())
    return sizes and len(kwargs.get("lags_seq") or ()) == RELEASED_LAGS


def released_record(checkpoint=None) -> Dict[str, Any]:
    """The released Lag-Llama's record; its own ``data_id_to_name_map`` when the file has one
    (the reference stores training sets under ids >= 0 and test sets under ids < 0)."""
    names = dict((checkpoint.extra.get("data_id_to_name_map") or {}) if checkpoint is not None else {})
    if names:
        seen = [str(n) for i, n in names.items() if int(i) >= 0]
        held = [str(n) for i, n in names.items() if int(i) < 0]
        where = f"data_id_to_name_map of {Path(str(checkpoint.path)).name}"
        return {"source": where, "pretrained_on": seen, "held_out": held, "released": True}
    return {
        "source": RELEASED_SOURCE,
        "pretrained_on": list(RELEASED_PRETRAINING),
        "held_out": list(RELEASED_TEST_DATASETS),
        "released": True,
    }


def _sources(training: Dict[str, Any]) -> Dict[str, List[str]]:
    """A ``pretrain`` record's named data, held-out list and unnamed sources (with ``init_from``'s)."""
    named: List[str] = []
    unnamed: List[str] = []
    held: List[str] = list(training.get("held_out") or ())
    for name, info in (training.get("sources") or {}).items():
        series = info.get("series") if isinstance(info, dict) else None
        if name == "corpus":
            named += list(training.get("corpus_files") or CORPUS_FILES)
        elif name == "packages":
            unnamed.append(f"{series} series of R's and statsmodels' packages")
            held += _package_held_out()
        elif name == "drivers":  # series of these sources with synthetic covariate effects (synthetic_drivers.py)
            named += ["m4_hourly", *(training.get("corpus_files") or CORPUS_FILES)]
            unnamed.append(f"{series} drivers series (m4_hourly, corpus, package and synthetic series plus covariates)")
            held += _package_held_out()
        elif name in SYNTHETIC_SOURCES:
            unnamed.append(f"{name} (synthetic)")
        else:
            named.append(name)
    parent = (training.get("init_from") or {}).get("training")
    if parent:
        more = _sources(parent)
        named += [n for n in more["named"] if n not in named]
        held += more["held"]
        unnamed += [u for u in more["unnamed"] if u not in unnamed]
    return {"named": list(dict.fromkeys(named)), "held": list(dict.fromkeys(held)), "unnamed": unnamed}


def _package_held_out() -> List[str]:
    from .package_corpus import HELD_OUT_SERIES  # numpy and pandas: only for a record with packages

    return list(HELD_OUT_SERIES)


def checkpoint_record(checkpoint, depth: int = 0) -> Optional[Dict[str, Any]]:
    """The pretraining record of ``checkpoint`` (a ``Checkpoint``; None: none is known)."""
    training = checkpoint.training
    name = Path(str(checkpoint.path)).name
    if training.get("fine_tuned_from"):
        return _fine_tuned_record(checkpoint, training, depth)
    if training.get("sources"):
        found = _sources(training)
        return {
            "source": f"training record of {name}",
            "pretrained_on": found["named"],
            "held_out": found["held"],
            "unnamed": found["unnamed"],
        }
    if is_released(checkpoint):
        return released_record(checkpoint)
    return None


def _fine_tuned_record(checkpoint, training: Dict[str, Any], depth: int) -> Dict[str, Any]:
    """A fine-tuned checkpoint: its tuning data, and its parent's record when the parent is readable."""
    name = Path(str(checkpoint.path)).name
    tuned = [str(training[k]) for k in ("dataset", "csv") if training.get(k)]
    parent_path = Path(str(training["fine_tuned_from"]))
    parent = None
    if depth < MAX_PARENTS and parent_path.is_file():
        from .checkpoint import CheckpointError, read_checkpoint

        try:
            parent = checkpoint_record(read_checkpoint(parent_path), depth + 1)
        except CheckpointError:
            parent = None
    record = {"source": f"training record of {name} (fine-tuned from {parent_path.name})", "fine_tuned_on": tuned}
    if parent is None:
        why = f"its parent {parent_path} is not readable here or has no record"
        return {**record, "pretrained_on": [], "complete": False, "incomplete": why}
    merged = {k: v for k, v in parent.items() if k != "source"}
    return {**merged, **record, "source": f"{record['source']}; {parent['source']}"}


def adapter_record(adapter, args) -> Optional[Dict[str, Any]]:
    """Lag-Llama's :meth:`~.common.adapter.ModelAdapter.pretraining_record` (the adapter's
    method is this function): trained here from scratch, else its checkpoint's record."""
    if adapter.checkpoint_free(args):
        return trained_here(f"{adapter.name} from scratch")
    return checkpoint_record(adapter.checkpoint(args))
