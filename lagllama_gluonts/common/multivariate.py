"""Several columns as the variables of ONE multivariate series (``target`` of shape D x T),
forecast jointly by one model: the shared commands' joint mode (Informer's ``--features M``).

The same commands as for univariate series (:mod:`~lagllama_gluonts.common.commands`), with
what a joint model needs: the columns stacked on one grid, the forecast written in the one
table layout (``variable``, then ``timestamp``, ``mean``, ``median``, ``q0.1`` ...; each
variable's horizon in turn, in its own units), and GluonTS's ``MultivariateEvaluator`` for the
backtests (metrics per variable aggregated, and of their sum).

With past-only covariates (``--covariates``) a joint forecast and backtest report the covariate
effect as the univariate commands do (:mod:`~lagllama_gluonts.common.covariate_effect`: the same
model with its covariate inputs zeroed, on the same random draws): per variable, its median's
change over its own scale, and their mean; a forecast writes ``covariate_effect.json``, a
backtest scores a "... covariates zeroed" row beside the model and keeps the record in
``metrics.json`` under ``covariate_effect``.
"""

from __future__ import annotations

import argparse
from typing import List, Sequence

import numpy as np
import pandas as pd

from . import covariate_effect, evaluation, leakage
from .adapter import ModelAdapter
from .cli import CLIError, default_out, forecast_output, read_table_args, say_wrote
from .constants import QUANTILES
from .frequency import future_timestamps
from .reporting import write_covariate_effect


def stacked_entry(table, past: Sequence[str] = ()) -> dict:
    """The wide table's target columns as one D x T entry on their common grid (NaN where a
    column has no value), its ``past`` covariates as ``past_feat_dynamic_real`` (gaps filled
    forward, then backward)."""
    entries = table.entries
    first = min(e["start"] for e in entries)
    offsets = [(e["start"] - first).n for e in entries]
    length = max(o + len(e["target"]) for o, e in zip(offsets, entries))
    target = np.full((len(entries), length), np.nan, dtype=np.float32)
    for row, (offset, entry) in enumerate(zip(offsets, entries)):
        target[row, offset : offset + len(entry["target"])] = entry["target"]
    names = [str(table.series.name(k)) for k in range(len(entries))]
    entry = {"start": first, "target": target, "item_id": "+".join(names)}
    if past:
        values = np.full((len(past), length), np.nan)
        rows = [list(table.covariates).index(c) for c in past]
        for offset, stored in zip(offsets, table.covariate_values):
            width = min(stored.shape[1], length - offset)
            values[:, offset : offset + width] = np.where(
                np.isnan(values[:, offset : offset + width]), stored[rows, :width], values[:, offset : offset + width]
            )
        filled = pd.DataFrame(values.T).ffill().bfill().fillna(0.0).to_numpy(dtype=np.float32).T
        entry["past_feat_dynamic_real"] = filled
    return entry


def read_joint(adapter: ModelAdapter, args: argparse.Namespace):
    """The ``--csv`` table's targets stacked: ``(table, entry, names, model arguments)``."""
    known, past = adapter.covariates(args)
    if known:
        raise CLIError(
            "--known-covariates with a joint forecast of several columns: not supported; "
            "use --covariates (past-only), or forecast each column on its own"
        )
    args.target = adapter.targets(args)
    table = read_table_args(args, covariates=past)
    if table.categorical:
        raise CLIError(
            f"covariate column {next(iter(table.categorical))!r} holds text: a joint forecast takes numeric "
            "covariates only (one-hot encode it into 0/1 columns)"
        )
    for position, entry in enumerate(table.entries):
        if np.isnan(entry["target"]).all():
            raise CLIError(f"{args.csv.name}: target column {table.series.name(position)!r} has no values")
    entry = stacked_entry(table, past)
    kwargs = {"target_dim": len(table.entries)}
    if past:
        kwargs["num_past_feat_dynamic_real"] = len(past)
    return table, entry, [str(table.series.name(k)) for k in range(len(table.entries))], kwargs


def forecast(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """Forecast the ``--csv`` table's columns jointly past the common end: the long table
    (``variable, timestamp, mean, median, q...``) to ``--output`` (default OUT/forecast.csv) and
    ``forecast.png``, one panel per variable."""
    horizon = args.prediction_length
    out = default_out(args, adapter.key, args.csv.stem)
    path = forecast_output(args, out)
    table, entry, names, kwargs = read_joint(adapter, args)
    adapter.setup(args)
    predictor = adapter.forecaster(args, [entry], table.freq, horizon, **kwargs)
    # with covariates, also forecast with them zeroed, to say how much they changed
    recorder = covariate_effect.with_and_without(predictor) if has_covariates([entry]) else None
    forecast_ = next(iter((recorder or predictor).predict([entry], num_samples=args.num_samples)))
    title = f"{adapter.name} forecast of {', '.join(names)} ({horizon} x {table.freq})"
    quantiles = getattr(args, "quantiles", None) or QUANTILES
    write_forecast(path, table, names, forecast_, title, quantiles)
    if recorder is not None:
        record = covariate_effect.summary(recorder.records, recorder.method, names=names)
        print(covariate_effect.effect_text(record), flush=True)
        say_wrote(write_covariate_effect(out, record))
    adapter.save(args, predictor, [entry], out)
    return 0


def has_covariates(entries: Sequence[dict]) -> bool:
    """Whether the entries carry covariate fields (a joint table's ``--covariates``)."""
    return any(e.get(name) is not None for e in entries for name in covariate_effect.COVARIATE_FIELDS)


def write_forecast(path, table, names: Sequence[str], forecast_, title: str, quantiles=QUANTILES):
    """The joint forecast at ``path`` (.csv or .parquet) in the one long layout, ``variable``
    first (the marginal of each variable, in its own units), and ``forecast.png`` beside it."""
    from .plots import plot_items
    from .tables import forecast_table, write_forecast_frames

    last = max(pd.Timestamp(t) for t in table.series.last)
    timestamps = future_timestamps(last, forecast_.prediction_length, table.freq)
    parts = []
    for d, name in enumerate(names):
        part = forecast_table(forecast_.copy_dim(d), quantiles, timestamps=timestamps)
        part.insert(0, "variable", name)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    csv_path, _ = write_forecast_frames(path, [frame])
    steps = max(4 * forecast_.prediction_length, 64)
    recent = table.history(list(table.series.name(k) for k in range(len(names))), steps)
    recent = {str(key): value for key, value in recent.items()}
    png = plot_items(
        recent,
        frame,
        csv_path.parent / "forecast.png",
        title,
        max_items=len(names),
        id_column="variable",
        time_column="timestamp",
    )
    print(f"wrote {csv_path} and {png} ({len(names)} variables, forecast {timestamps[0]} .. {timestamps[-1]})")
    return csv_path, png


# --------------------------------------------------------------------------- backtests


def backtest_table(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """Rolling-origin windows of the ``--csv`` table's columns forecast jointly: the model
    trains on the part before the first window; each window is scored with GluonTS's
    ``MultivariateEvaluator``."""
    horizon, windows = args.prediction_length, args.windows or 1
    distance = args.distance or horizon
    table, entry, names, kwargs = read_joint(adapter, args)
    span = evaluation.backtest_span(horizon, windows, distance)
    length = entry["target"].shape[1]
    if length < span + horizon:
        raise CLIError(
            f"no series has the {span + horizon} steps {windows} window(s) of {horizon} need "
            f"({horizon} of history before the first); the table has {length}: use fewer --windows or a "
            "shorter --prediction-length"
        )
    ends = [length - span + k * distance + horizon for k in range(windows)]
    test = [_cut(entry, end) for end in ends]
    adapter.setup(args)
    mode, model = adapter.backtester(args, table.freq, horizon, **kwargs)
    print(f"{adapter.name} {mode} on {args.csv.name}: {len(names)} variables jointly, {windows} window(s)", flush=True)
    predictor = model if hasattr(model, "predict") else model.train([_cut(entry, length - span)])
    record = {"csv": str(args.csv), "windows": windows, "distance": distance}
    return _score(adapter, args, predictor, model, test, names, record, args.csv.stem)


def backtest_dataset(adapter: ModelAdapter, args: argparse.Namespace, dataset, freq: str, horizon: int) -> int:
    """A repository dataset's series as the variables of one multivariate series (GluonTS's
    ``MultivariateGrouper``), one joint model trained on the train split, scored on every test
    date by ``MultivariateEvaluator``."""
    from gluonts.dataset.multivariate_grouper import MultivariateGrouper

    train_series = list(dataset.train)[: args.max_series] if args.max_series else list(dataset.train)
    dims = len(train_series)
    ids = {t.get("item_id") for t in train_series}
    test_series = [e for e in dataset.test if e.get("item_id") in ids] if args.max_series else list(dataset.test)
    train = MultivariateGrouper(max_target_dim=dims)(train_series)
    test = MultivariateGrouper(max_target_dim=dims, num_test_dates=max(1, len(test_series) // dims))(test_series)
    mode, model = adapter.backtester(args, freq, horizon, target_dim=dims)
    predictor = model if hasattr(model, "predict") else model.train(train)  # a predictor: used as it is
    print(f"\n{adapter.name} (M, {dims} variables) on {args.dataset} (H={horizon})")
    names = [str(t.get("item_id", k)) for k, t in enumerate(train_series)]
    return _score(adapter, args, predictor, model, list(test), names, {"dataset": args.dataset}, f"{args.dataset}_M")


def _cut(entry: dict, end: int) -> dict:
    """``entry``'s first ``end`` steps (its covariates too)."""
    cut = {**entry, "target": entry["target"][:, :end]}
    if "past_feat_dynamic_real" in entry:
        cut["past_feat_dynamic_real"] = entry["past_feat_dynamic_real"][:, :end]
    return cut


def _score(adapter, args, predictor, model, test: List[dict], names, record: dict, name: str) -> int:
    """Score ``predictor`` on each test entry's last horizon (``MultivariateEvaluator``; with
    covariates beside it with them zeroed, :func:`_scored`) and write ``metrics.json`` and
    ``forecasts.png`` (variable 0)."""
    forecasts, tss, metrics, effect = _scored(adapter.name, predictor, test, names, args.num_samples)
    if effect:
        print(evaluation.compare_metrics_table(metrics))
        print(covariate_effect.effect_text(effect["covariate_effect"]), flush=True)
    else:
        print(evaluation.backtest_metrics_table(metrics[adapter.name]))
    record = {
        **record,
        "model": adapter.name,
        "features": "M",
        "target_dim": len(names),
        "variables": list(names),
        "prediction_length": predictor.prediction_length,
        "windows": len(forecasts),
        "train_seconds": adapter.train_seconds(model),
        **adapter.record(args),
        "pretraining": leakage.announce(adapter.pretraining_record(args), record.get("csv") or record["dataset"]),
        "metrics": metrics,
        **effect,
    }
    out = default_out(args, adapter.key, name)
    say_wrote(*evaluation.write_report(out, record, forecasts, tss, f"{adapter.name} (M) — {name}, variable 0"))
    adapter.save(args, predictor, test, out, trained=False)
    return 0


def _scored(label: str, predictor, test: List[dict], names, num_samples: int):
    """``(forecasts, tss, metrics, effect)``: ``predictor``'s forecasts of the test entries' last
    horizon, their truths and ``{label: metrics}``; with covariates also ``"LABEL covariates
    zeroed"``'s metrics (the same model, its covariate inputs zeroed, on the same random draws)
    and ``effect``, ``{"covariate_effect": ...}`` (else empty)."""
    if not has_covariates(test):
        forecasts, tss = _forecasts(test, predictor, num_samples)
        return forecasts, tss, {label: _metrics(forecasts, tss)}, {}
    zeroed = covariate_effect.zeroed_and_recorded(predictor)
    (forecasts, tss), (without, _) = covariate_effect.same_draws(
        lambda: _forecasts(test, predictor, num_samples), lambda: _forecasts(test, zeroed, num_samples)
    )
    without_label = f"{label} covariates zeroed"
    metrics = {label: _metrics(forecasts, tss), without_label: _metrics(without, tss)}
    effect = covariate_effect.backtest_summary(zeroed.records, zeroed.method, metrics, label, without_label, names)
    return forecasts, tss, metrics, {"covariate_effect": effect}


def _forecasts(test: List[dict], predictor, num_samples: int):
    """``predictor``'s forecasts of each test entry's last horizon and the entries' truths."""
    from gluonts.evaluation import make_evaluation_predictions

    forecast_it, ts_it = make_evaluation_predictions(test, predictor, num_samples=num_samples)
    return list(forecast_it), list(ts_it)


def _metrics(forecasts, tss) -> dict:
    """GluonTS's ``MultivariateEvaluator``'s aggregate metrics (per variable, and of their sum)."""
    from gluonts.evaluation import MultivariateEvaluator

    evaluator = MultivariateEvaluator(quantiles=QUANTILES, target_agg_funcs={"sum": np.sum}, num_workers=0)
    metrics, _ = evaluator(iter(tss), iter(forecasts), num_series=len(tss))
    return metrics
