"""Was the evaluated data seen in pretraining? One answer for every evaluation.

A score on data the model was pretrained (or fine-tuned) on is not zero-shot: published
"zero-shot" numbers on such sets are leaky. Every evaluation compares its dataset with the
model's *pretraining record* and labels the result (:func:`pretraining_status`).

A record is plain data, what :meth:`~.adapter.ModelAdapter.pretraining_record` returns:

* ``None`` or ``{}``: nothing is known ("pretraining data unknown");
* ``{"trained_here": True, "source": ...}``: the model learns only from the user's data;
* otherwise ``source`` (where the record comes from) and lists of dataset names:
  ``pretrained_on``, ``held_out`` (set aside for evaluation), ``fine_tuned_on``, ``uncertain``
  (perhaps pretrained on), ``unnamed`` (sources no name can match, said in the reason), and
  ``complete`` (False: names on no list are unknown, not unseen).

Names match loosely (:func:`dataset_keys`): case, a file's folder and extension, GluonTS's
``_without_missing`` suffix and a corpus file's ``_0`` numbering do not matter, and
:data:`ALIASES` maps the names one dataset goes by (``ett_small_1h`` is ETTh1 and ETTh2) to
the same keys. A leak check should flag too much rather than too little, so a dataset that is
partly seen (``ett_small_15min``: ETTm1 seen, ETTm2 held out) is "seen".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional

SEEN_PRETRAINING = "seen in pretraining"
SEEN_FINE_TUNING = "seen in fine-tuning"
POSSIBLY_SEEN = "possibly seen in pretraining"
NOT_SEEN = "not seen in pretraining"
UNKNOWN = "pretraining data unknown"
TRAINED_HERE = "trained here (no pretraining)"

# The names one dataset goes by -> the keys of the data it holds. Only identities (the same
# series, or an aggregate of them), never mere likeness: GluonTS's ``ett_small_1h`` reads both
# ETTh1.csv and ETTh2.csv (gluonts/dataset/repository/_ett_small.py), the LSTNet and GP-copula
# ``electricity``/``traffic``/``solar`` sets hold the same meters, sensors and plants as
# Monash's, and the corpus's ``river_flow_saugeen.csv`` is the Saugeen's daily flow.
ALIASES: Dict[str, FrozenSet[str]] = {
    name: frozenset(keys)
    for name, keys in {
        "ett_small_1h": ("ett_h1", "ett_h2"),
        "ett_small_15min": ("ett_m1", "ett_m2"),
        "etth1": ("ett_h1",),
        "etth2": ("ett_h2",),
        "ettm1": ("ett_m1",),
        "ettm2": ("ett_m2",),
        "electricity": ("electricity_hourly",),
        "electricity_nips": ("electricity_hourly",),
        "electricity_weekly": ("electricity_hourly",),
        "traffic_nips": ("traffic",),
        "traffic_hourly": ("traffic",),
        "exchange_rate_nips": ("exchange_rate",),
        "solar_energy": ("solar_10_minutes",),
        "solar_nips": ("solar_10_minutes",),
        "uber_tlc_daily": ("uber_tlc_hourly",),
        "sunspot": ("sunspot",),
        "river_flow_saugeen": ("saugeenday",),
        "beijingpm25": ("beijing_pm25",),
        "beijing_pm2_5": ("beijing_pm25",),
        "airqualityuci": ("air_quality_uci",),
        "kdd_cup_2018": ("kdd_cup_2018",),
    }.items()
}
_EXTENSIONS = (".csv", ".tsv", ".parquet", ".json", ".jsonl", ".feather", ".xlsx", ".txt", ".gz")


@dataclass(frozen=True)
class Status:
    """An evaluation's label, why, and where the record it was read from comes from."""

    label: str
    reason: str
    record: str = ""

    @property
    def leaky(self) -> bool:
        """Whether the score is not zero-shot (the data, or part of it, was trained on)."""
        return self.label in (SEEN_PRETRAINING, SEEN_FINE_TUNING, POSSIBLY_SEEN)

    def to_dict(self) -> Dict[str, str]:
        """The ``pretraining`` field of ``metrics.json``."""
        return {"label": self.label, "reason": self.reason, "record": self.record}

    def line(self) -> str:
        """The line the commands print under their table."""
        return f"pretraining: {self.label} — {self.reason}"


def _normal(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def dataset_keys(name: str) -> FrozenSet[str]:
    """The keys ``name`` (a GluonTS dataset, a file name or path, a package series id) matches
    on: the data it holds when :data:`ALIASES` knows it, else its normalised names."""
    text = str(name).strip()
    base = PurePath(text).name if text.lower().endswith(_EXTENSIONS) else text
    for ext in _EXTENSIONS:
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
    keys = {_normal(text), _normal(base)}
    keys |= {re.sub(r"_(without|with)_missing$", "", key) for key in keys}
    # a trailing number (BeijingPM25_0.csv: a corpus's numbering of one file) is dropped only
    # to find an alias: sales_1.csv and sales_2.csv stay different data
    keys |= {re.sub(r"_\d+$", "", key) for key in keys if re.sub(r"_\d+$", "", key) in ALIASES}
    keys.discard("")
    aliased = frozenset().union(*(ALIASES[k] for k in keys if k in ALIASES))
    return aliased or frozenset(keys)


def _matches(keys: FrozenSet[str], names: Iterable[str]) -> List[str]:
    """The names of ``names`` that share a key with ``keys`` (the dataset's)."""
    return [str(n) for n in names or () if dataset_keys(str(n)) & keys]


def _listed(names: List[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def pretraining_status(record: Optional[Mapping[str, Any]], dataset: str) -> Status:
    """The label of an evaluation on ``dataset`` (a name or a file) by a model with ``record``."""
    if not record:
        return Status(UNKNOWN, "the model carries no record of the data it was pretrained on", "none")
    source = str(record.get("source", ""))
    if record.get("trained_here"):
        return Status(TRAINED_HERE, f"{dataset} is scored by a model trained only on the data given here", source)
    keys = dataset_keys(dataset)
    tuned = _matches(keys, record.get("fine_tuned_on", ()))
    seen = _matches(keys, record.get("pretrained_on", ()))
    if tuned:
        also = f"; also pretrained on ({_listed(seen)})" if seen else ""
        return Status(SEEN_FINE_TUNING, f"{dataset} matches the fine-tuning data {_listed(tuned)}{also}", source)
    held = _matches(keys, record.get("held_out", ()))
    if seen:
        part = f" (held out: {_listed(held)})" if held else ""
        return Status(SEEN_PRETRAINING, f"{dataset} matches pretraining data {_listed(seen)}{part}", source)
    uncertain = _matches(keys, record.get("uncertain", ()))
    if uncertain:
        return Status(POSSIBLY_SEEN, f"{dataset} matches {_listed(uncertain)}, perhaps in pretraining", source)
    if held:
        return Status(NOT_SEEN, f"held out: {dataset} is on the record's held-out list ({_listed(held)})", source)
    named = list(record.get("pretrained_on", ()))
    if record.get("complete") is False:
        why = record.get("incomplete", "the record does not name all of the pretraining data")
        return Status(UNKNOWN, f"{dataset} is not among the named pretraining data, but {why}", source)
    unnamed = list(record.get("unnamed", ()))
    rest = f"; not matched by name: {'; '.join(unnamed)}" if unnamed else ""
    return Status(NOT_SEEN, f"{dataset} is not among the {len(named)} pretraining sets it names{rest}", source)


def trained_here(model: str) -> Dict[str, Any]:
    """The record of a model that learns only from the data it is given (no pretraining)."""
    return {"trained_here": True, "source": f"{model} is trained on the data it evaluates; it has no pretraining"}


def announce(record: Optional[Mapping[str, Any]], dataset: str) -> Dict[str, str]:
    """Print an evaluation's label under its table and return the ``pretraining`` field of its
    ``metrics.json``: what every shared evaluation command does."""
    status = pretraining_status(record, dataset)
    print(status.line(), flush=True)
    return status.to_dict()
