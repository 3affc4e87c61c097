"""How much the covariates changed a forecast, and the score with and without them: the one
measure every covariate forecast and backtest of both models reports (issue 24's "honest
reporting"). Computes and records; prints nothing (the commands print :func:`effect_text`).

**The measure.** For one forecast, the mean over the horizon of
``|median with covariates - median without|``, divided by the series' scale: the mean absolute
observed target of the history the forecast saw (1 when that is 0). 0.05 reads "the covariates
moved the median by 5% of the series' typical level". Over many forecasts (a table's series, a
backtest's windows) the mean and the largest are reported.

**A joint forecast** (a D x T target, its median h x D: Informer ``--features M``): the measure of
each variable, its median's change over its own scale (:func:`variable_changes`), and the
forecast's measure their mean; the summaries add each variable's mean and largest
(:func:`variable_summary`).

**Without covariates** means, per route:

* *in-context regression* (:mod:`~lagllama_gluonts.common.incontext`, a checkpoint without
  covariate weights): the wrapped predictor on the same entry, less its covariate fields; the
  regression records the change itself (``InContextCovariates(compare=True)``);
* *a model with weights for its covariates* (a Lag-Llama fine-tuned with covariates, Informer
  MS, M with past covariates, or with known covariates): :func:`covariates_zeroed`, the same
  trained model with its covariate pathway off. A network with a submodule named
  ``covariates`` (Lag-Llama's ``CovariateEncoder``: a projection, initialised at zero, added to
  every token) gets that module's parameters zeroed for the forecast and restored after it:
  what the model computes with the projection at its initial value. Any other network
  (Informer: the covariates are input channels of its token embedding, standardised by each
  window's context) is fed covariates of zeros, which the per-window standardisation turns into
  exact zeros: the same as zeroing their input weights.

:class:`EffectRecorder` forecasts both on the same entries, yields one and records the change;
both draw the same random numbers (common random numbers), so the change is the covariates'
and not sampling noise, and the reported forecast is the very one the command would make
without the report.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from gluonts.itertools import batcher
from gluonts.model.forecast import Forecast
from gluonts.model.predictor import Predictor

IN_CONTEXT = "in-context regression (the same forecast without the covariate fields)"
PROJECTION_ZEROED = "the covariate projection zeroed"
PATHWAY_ZEROED = "the covariate projection and the pretrained covariate pathway zeroed"
INPUTS_ZEROED = "the covariate inputs zeroed (constant covariates: zeros after the per-window standardisation)"
COVARIATE_FIELDS = ("feat_dynamic_real", "past_feat_dynamic_real")
CHUNK = 256


def series_scale(target) -> float:
    """The mean absolute observed value of ``target`` (the history a forecast saw); 1 when 0."""
    values = np.asarray(target, dtype=np.float64).reshape(-1)
    observed = values[~np.isnan(values)]
    scale = float(np.mean(np.abs(observed))) if observed.size else 0.0
    return scale if scale > 0 else 1.0


def variable_changes(with_covariates: Forecast, without: Forecast, target) -> np.ndarray:
    """The mean absolute change of the median over the horizon relative to :func:`series_scale`,
    per variable: one value for a univariate forecast, D for a joint one (its median h x D, its
    ``target`` D x T: each variable over its own row's scale)."""
    delta = np.abs(
        np.asarray(with_covariates.quantile(0.5), dtype=np.float64)
        - np.asarray(without.quantile(0.5), dtype=np.float64)
    )
    if delta.ndim == 1:
        return np.array([np.mean(delta) / series_scale(target)])
    rows = np.asarray(target, dtype=np.float64).reshape(delta.shape[1], -1)
    return delta.mean(axis=0) / np.array([series_scale(row) for row in rows])


def relative_change(with_covariates: Forecast, without: Forecast, target) -> float:
    """Mean absolute change of the median over the horizon relative to :func:`series_scale`
    (a joint forecast: the mean of its :func:`variable_changes`)."""
    return float(np.mean(variable_changes(with_covariates, without, target)))


# --------------------------------------------------------------------------- without covariates


# the submodules through which Lag-Llama's covariates enter: its encoder (a projection learned by
# fine-tuning) and its pretrained pathway (covariate_regression.py); with all of their weights at
# zero each adds exactly nothing
PATHWAY_NAMES = ("covariates", "covariate_regression")


def covariate_pathway(predictor):
    """The submodules of ``predictor``'s network named as in :data:`PATHWAY_NAMES` (Lag-Llama's
    covariate encoder and pretrained pathway), as one ``ModuleList``, or None (no network, or
    covariates that enter as input channels)."""
    network = getattr(predictor, "prediction_net", None)
    if network is None or not hasattr(network, "named_modules"):
        return None
    import torch

    found = [
        module
        for name, module in network.named_modules()
        if name.rpartition(".")[2] in PATHWAY_NAMES and any(True for _ in module.parameters())
    ]
    return torch.nn.ModuleList(found) if found else None


@contextmanager
def _zeroed(module):
    """``module``'s parameters at zero inside the block, restored after it."""
    import torch

    saved = [p.detach().clone() for p in module.parameters()]
    try:
        with torch.no_grad():
            for p in module.parameters():
                p.zero_()
        yield
    finally:
        with torch.no_grad():
            for p, value in zip(module.parameters(), saved):
                p.copy_(value)


def _zero_inputs(entry: dict) -> dict:
    out = dict(entry)
    for name in COVARIATE_FIELDS:
        if entry.get(name) is not None:
            out[name] = np.zeros_like(np.asarray(entry[name], dtype=np.float32))
    return out


class CovariatesZeroed(Predictor):
    """``predictor`` with its covariate pathway off (the module's rule): its covariate
    projection zeroed while it forecasts (restored before each chunk's forecasts are yielded),
    or, without one, its covariate inputs zeroed."""

    def __init__(self, predictor):
        super().__init__(prediction_length=predictor.prediction_length)
        self.predictor, self.pathway = predictor, covariate_pathway(predictor)
        self.method = INPUTS_ZEROED
        if self.pathway is not None:
            names = {type(module).__name__ for module in self.pathway}
            self.method = PATHWAY_ZEROED if "CovariateRegression" in names else PROJECTION_ZEROED

    def predict(self, dataset, **kwargs) -> Iterator[Forecast]:
        for chunk in batcher(dataset, CHUNK):
            if self.pathway is None:
                yield from self.predictor.predict([_zero_inputs(e) for e in chunk], **kwargs)
                continue
            with _zeroed(self.pathway):  # held only while this chunk is forecast
                forecasts = list(self.predictor.predict(chunk, **kwargs))
            yield from forecasts


def covariates_zeroed(predictor) -> CovariatesZeroed:
    """``predictor`` forecasting as without its covariates (:class:`CovariatesZeroed`)."""
    return CovariatesZeroed(predictor)


# --------------------------------------------------------------------------- both, recorded


def random_state():
    """numpy's and torch's global random state (CUDA's too where torch has initialised it)."""
    torch = sys.modules.get("torch")
    state = {"numpy": np.random.get_state()}
    if torch is not None:
        state["torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Back to a :func:`random_state`."""
    np.random.set_state(state["numpy"])
    torch = sys.modules.get("torch")
    if torch is not None and "torch" in state:
        torch.set_rng_state(state["torch"])
        if "cuda" in state:
            torch.cuda.set_rng_state_all(state["cuda"])


def same_draws(first: Callable[[], list], second: Callable[[], list]) -> Tuple[list, list]:
    """``(first(), second())``, both drawing the same random numbers (common random numbers:
    two forecasts of the same entries, in the same order, differ by their inputs only, not by
    sampling noise), the random state left where ``first`` alone leaves it."""
    before = random_state()
    one = first()
    after = random_state()
    set_random_state(before)
    try:
        two = second()
    finally:
        set_random_state(after)
    return one, two


class EffectRecorder(Predictor):
    """Forecasts every entry with ``shown`` (yielded) and with ``other`` (the same model with or
    without its covariates), and records per forecast in :attr:`records` the median's
    :func:`relative_change`. Both draw the same random numbers (:func:`same_draws`): the change is
    the covariates', not sampling noise (0 exactly for a projection still at zero), and
    ``shown``'s forecasts are those it makes alone."""

    def __init__(self, shown, other, method: str = PROJECTION_ZEROED):
        super().__init__(prediction_length=shown.prediction_length)
        self.shown, self.other, self.method = shown, other, method
        self.records: List[dict] = []

    def predict(self, dataset, **kwargs) -> Iterator[Forecast]:
        for chunk in batcher(dataset, CHUNK):
            forecasts, others = same_draws(
                lambda: list(self.shown.predict(chunk, **kwargs)), lambda: list(self.other.predict(chunk, **kwargs))
            )
            for entry, forecast, other in zip(chunk, forecasts, others):
                self.records.append(_record(entry, variable_changes(forecast, other, entry["target"])))
            yield from forecasts


def _record(entry: dict, changes: np.ndarray) -> dict:
    """One forecast's record: its change (the mean of its variables'), and a joint one's per variable."""
    record = {"item_id": entry.get("item_id"), "used": True, "change": float(np.mean(changes))}
    if np.ndim(entry["target"]) == 2:
        record["variables"] = [float(c) for c in changes]
    return record


def with_and_without(predictor) -> EffectRecorder:
    """``predictor`` (a model with covariate weights) recorded against :func:`covariates_zeroed`."""
    zeroed = covariates_zeroed(predictor)
    return EffectRecorder(predictor, zeroed, zeroed.method)


def zeroed_and_recorded(predictor) -> EffectRecorder:
    """A backtest's "without covariates" row: :func:`covariates_zeroed`'s forecasts yielded, the
    change against ``predictor``'s own on the same windows recorded."""
    zeroed = covariates_zeroed(predictor)
    return EffectRecorder(zeroed, predictor, zeroed.method)


# --------------------------------------------------------------------------- summary


def summary(
    records: List[dict],
    method: str,
    scores: Optional[Dict[str, Optional[float]]] = None,
    labels: Optional[Dict[str, str]] = None,
    names: Optional[Sequence[str]] = None,
) -> dict:
    """The record a command writes (``metrics.json``, ``covariate_effect.json``): how the
    forecast without covariates was made, the forecasts and how many used the covariates, the
    mean and largest relative change of the median, and in a backtest ``scores``
    (``{"with": ..., "without": ...}``, mean_wQuantileLoss) of the models named in ``labels``.
    A joint forecast's variables ``names``: each one's too, under ``variables``
    (:func:`variable_summary`)."""
    changes = [r["change"] for r in records]
    out = {
        "without_covariates": method,
        "forecasts": len(records),
        "used": int(sum(bool(r.get("used", True)) for r in records)),
        "mean_relative_change": float(np.mean(changes)) if changes else 0.0,
        "max_relative_change": float(np.max(changes)) if changes else 0.0,
    }
    if scores is not None:
        out["mean_wQuantileLoss"] = dict(scores)
        with_, without = scores.get("with"), scores.get("without")
        if with_ is not None and without is not None:
            out["helped"] = bool(with_ < without)
    if labels is not None:
        out["models"] = dict(labels)
    if names is not None:
        out["variables"] = variable_summary(records, names)
    return out


def variable_summary(records: List[dict], names: Sequence[str]) -> Dict[str, dict]:
    """Per variable of joint forecasts (their records' ``variables``, in the order of ``names``):
    the mean and largest relative change of that variable's median over its own scale."""
    changes = np.array([r["variables"] for r in records], dtype=np.float64).reshape(len(records), len(names))
    return {
        str(name): {
            "mean_relative_change": float(changes[:, d].mean()) if len(records) else 0.0,
            "max_relative_change": float(changes[:, d].max()) if len(records) else 0.0,
        }
        for d, name in enumerate(names)
    }


def effect_text(record: dict) -> str:
    """One line saying how much the covariates moved the forecast; one more with a joint
    forecast's variables (:func:`variables_text`), one more with a backtest's scores (:func:`score_text`)."""
    used = "" if record["used"] == record["forecasts"] else f"used in {record['used']} of "
    line = (
        f"covariates: {used}{record['forecasts']} forecast(s); against {record['without_covariates']}, they moved "
        f"the median by {100 * record['mean_relative_change']:.2f}% of the series' scale on average "
        f"(at most {100 * record['max_relative_change']:.2f}%)"
    )
    lines = [line, variables_text(record), score_text(record)]
    return "\n".join(text for text in lines if text)


def variables_text(record: dict) -> str:
    """A joint forecast's line: each variable's mean change over its own scale ("" if none)."""
    variables = record.get("variables") or {}
    each = ", ".join(f"{name} {100 * v['mean_relative_change']:.2f}%" for name, v in variables.items())
    return f"covariates: per variable (each of its own scale): {each}" if each else ""


def score_text(record: dict) -> str:
    """A backtest's line: the score with and without the covariates on the same windows ("" if none)."""
    scores = record.get("mean_wQuantileLoss") or {}
    if scores.get("with") is None or scores.get("without") is None:
        return ""
    verdict = "they helped" if record.get("helped") else "they did not help"
    return (
        f"covariates: mean_wQuantileLoss {scores['with']:.4f} with them, {scores['without']:.4f} without "
        f"({record['without_covariates']}, the same windows): {verdict}"
    )


def backtest_summary(
    records: List[dict],
    method: str,
    metrics: dict,
    with_label: str,
    without_label: str,
    names: Optional[Sequence[str]] = None,
) -> dict:
    """:func:`summary` of a rolling backtest whose ``metrics`` hold both models' rows (a joint
    backtest's variables ``names``: each one's change too)."""
    scores = {
        "with": _score(metrics.get(with_label)),
        "without": _score(metrics.get(without_label)),
    }
    return summary(records, method, scores, {"with": with_label, "without": without_label}, names)


def _score(metrics: Optional[dict]) -> Optional[float]:
    value = (metrics or {}).get("mean_wQuantileLoss")
    return None if value is None else float(value)
