"""The commands both models share, written once over a
:class:`~lagllama_gluonts.common.adapter.ModelAdapter`:

* :func:`forecast` — forecast a file past its end (one series, a long table with
  ``--item-column``, a wide one with several ``--target`` columns, or several columns jointly
  when the model forecasts them as one multivariate series); with ``--dataset``, the dataset's
  test windows scored beside SeasonalNaive.
* :func:`backtest` — a repository dataset's test split (:func:`backtest_dataset`), or
  rolling-origin windows on a file (:func:`backtest_table`), beside SeasonalNaive.
* :func:`train` — train (or fine-tune) on a file or a dataset's train split, validated on each
  series' last horizon, and save the model; on a dataset, its test split scored beside
  SeasonalNaive and the model's references.

Every model reads its table, skips the series too short to forecast (one rule:
:func:`min_observations`), writes one table layout and one report through the same code; a
model adds only how its predictor is built (trained, or read from a checkpoint).
"""

from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np

from . import calibration, covariate_effect, evaluation, incontext, leakage, multivariate
from .adapter import ModelAdapter
from .cli import (
    CLIError,
    check_save_path,
    check_table_source,
    dataset_and_horizon,
    default_out,
    forecast_output,
    read_table_args,
    say_wrote,
)
from .constants import QUANTILES
from .jsonio import write_json
from .reporting import write_covariate_effect
from .tables import RegularTable

# A forecast from fewer observed values than this is a guess, not a forecast; and never from
# fewer than the horizon: the one rule of every model, for a single series and for a table.
MIN_OBSERVATIONS = 8
# the options that only mean something on a --csv table
TABLE_ONLY = ("item_column", "target", "windows", "distance", "output", "covariates", "known_covariates")


def min_observations(horizon: int) -> int:
    """Observed values a series needs to be forecast ``horizon`` steps ahead."""
    return max(MIN_OBSERVATIONS, horizon)


def covariate_counts(known: Sequence[str], past: Sequence[str]) -> dict:
    """The estimators' covariate arguments for ``known`` and ``past`` columns (none: no key)."""
    counts = dict(num_feat_dynamic_real=len(known), num_past_feat_dynamic_real=len(past))
    return {key: value for key, value in counts.items() if value}


def _check_calibration(adapter: ModelAdapter, args: argparse.Namespace) -> None:
    """``--calibrate-windows`` calibrates one series' intervals at a time: not a joint forecast."""
    if getattr(args, "calibrate_windows", None) and adapter.joint(args):
        raise CLIError(
            "--calibrate-windows calibrates univariate forecasts; a joint forecast of several columns has none"
        )


def _calibrated_models(adapter: ModelAdapter, args: argparse.Namespace, label: str) -> dict:
    """``{"LABEL calibrated": wrap}`` with ``--calibrate-windows`` (else empty): the model
    scored again, its intervals calibrated on the windows before each origin."""
    windows = getattr(args, "calibrate_windows", None)
    if not windows:
        return {}
    return {f"{label} calibrated": lambda predictor: calibration.CalibratedPredictor(predictor, windows)}


def _say_in_context(adapter: ModelAdapter, args: argparse.Namespace) -> bool:
    """Whether the covariates go in by in-context regression (:meth:`ModelAdapter.in_context`), saying so."""
    if not adapter.in_context(args):
        return False
    known, past = adapter.covariates(args)
    print(
        f"covariates {_some(known + past)}: {adapter.name} has no weights for them, so they enter by in-context "
        "regression (ridge on each series' context, the residual forecast zero-shot, the effect added back; "
        "past-only ones lagged by the horizon)",
        flush=True,
    )
    return True


def _own_covariates(adapter: ModelAdapter, args: argparse.Namespace) -> bool:
    """Whether the model takes the command's covariates with weights of its own (not in context,
    not a joint forecast): its forecasts are then compared with its covariates zeroed."""
    known, past = adapter.covariates(args)
    return bool(known or past) and not adapter.joint(args) and not adapter.in_context(args)


def _effect_models(adapter: ModelAdapter, args: argparse.Namespace, recorders: list):
    """A backtest's covariate rows: ``(derived models, with-label, without-label)``; the
    recorders they make are appended to ``recorders`` (empty dict: no covariates)."""
    name = adapter.name
    if _say_in_context(adapter, args):  # scored beside the model without them, on the same windows

        def with_covariates(predictor):
            recorders.append(incontext.InContextCovariates(predictor, seed=args.seed, compare=True))
            return recorders[-1]

        return {f"{name} in-context covariates": with_covariates}, f"{name} in-context covariates", name
    if not _own_covariates(adapter, args):
        return {}, None, None

    def zeroed(predictor):  # the same trained model, its covariate pathway off
        recorders.append(covariate_effect.zeroed_and_recorded(predictor))
        return recorders[-1]

    return {f"{name} covariates zeroed": zeroed}, name, f"{name} covariates zeroed"


def _effect_record(recorders: list, metrics: dict, with_label, without_label) -> dict:
    """``{"covariate_effect": ...}`` for metrics.json (and the in-context regression's own
    summary under its old key), empty without covariates."""
    if not recorders:
        return {}
    recorder = recorders[0]
    record = covariate_effect.backtest_summary(recorder.records, recorder.method, metrics, with_label, without_label)
    if isinstance(recorder, incontext.InContextCovariates):
        return {"covariate_effect": record, "in_context_covariates": incontext.change_summary(recorder.records)}
    return {"covariate_effect": record}


def _say_effect(record: dict, recorder) -> None:
    """The covariate lines: the in-context regression's own, or the shared measure's."""
    if isinstance(recorder, incontext.InContextCovariates):
        print(incontext.change_text(recorder.records))
        print(covariate_effect.score_text(record), flush=True)
    else:
        print(covariate_effect.effect_text(record), flush=True)


def _some(names: Sequence) -> str:
    return ", ".join(map(repr, names[:3])) + (" ..." if len(names) > 3 else "")


# --------------------------------------------------------------------------- reading a table


def read_entries(adapter: ModelAdapter, args: argparse.Namespace, horizon: int, forecasting: bool):
    """The ``--csv`` table (checked before any model is loaded), its short series left out and
    counted, and its entries with the covariate fields: ``(table, entries, covariate counts)``.
    ``forecasting``: the known covariates' future rows are read too, and a series needs
    :func:`min_observations` observed values (a backtest's windows have their own rule)."""
    known, past = adapter.covariates(args)
    args.target = adapter.targets(args)
    # a long table with no series long enough is refused before per-series objects are built
    least = min_observations(horizon) if forecasting and args.item_column is not None else 0
    table = read_table_args(args, covariates=known + past, min_observed=least)
    _check_text_covariates(table, known + past, adapter.in_context(args))
    if forecasting:
        _drop_short(table, args, horizon)
    entries = table.add_covariate_fields(known, past, horizon if forecasting else 0) if known or past else table.entries
    if getattr(args, "max_series", None) and not forecasting:
        entries = entries[: args.max_series]
    return table, entries, covariate_counts(known, past)


def _check_text_covariates(table, columns, in_context: bool) -> None:
    """Text covariate columns go in by in-context regression only (one-hot, see
    :meth:`~lagllama_gluonts.common.tables.SeriesTable.add_covariate_fields`); a model that learns
    its covariates needs numbers."""
    text = [c for c in columns if c in table.categorical]
    if text and not in_context:
        levels = table.categorical[text[0]]
        raise CLIError(
            f"covariate column {text[0]!r} holds text ({', '.join(map(repr, levels[:3]))}"
            f"{', ...' if len(levels) > 3 else ''}): only in-context regression takes text covariates "
            "(Lag-Llama zero-shot: --in-context-covariates); a model that learns its covariates needs numbers, "
            "so one-hot encode it into 0/1 columns"
        )


def _drop_short(table, args: argparse.Namespace, horizon: int) -> None:
    """Leave out the series with fewer than :func:`min_observations` values, saying so; a
    single series that short is an error."""
    minimum = min_observations(horizon)
    if len(table.entries) == 1 and args.item_column is None:
        observed = int((table.entries[0]["target"] == table.entries[0]["target"]).sum())  # not NaN
        if observed < minimum:
            raise CLIError(
                f"column {args.target[0]!r} has {observed} values; at least {minimum} are needed to forecast "
                f"{horizon} steps"
            )
    skipped = table.drop_short(minimum)
    if skipped:
        rule = f"than the horizon ({horizon})" if minimum == horizon else f"than {minimum}"
        print(f"skipped {len(skipped)} series with fewer observed values {rule}: {_some(skipped)}")


# --------------------------------------------------------------------------- forecast


def forecast(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """``forecast``: with ``--csv``, every series of the table past its end; with
    ``--dataset``, the dataset's test windows beside SeasonalNaive (:func:`backtest_dataset`)."""
    if (args.dataset is None) == (args.csv is None):
        raise CLIError("give one of --dataset NAME or --csv FILE")
    adapter.check(args)
    check_table_source(args, TABLE_ONLY, needs_target=not adapter.joint(args))
    _check_calibration(adapter, args)
    if args.dataset is not None:
        return backtest_dataset(adapter, args, baseline=True)
    if adapter.joint(args):
        return multivariate.forecast(adapter, args)
    return forecast_table(adapter, args)


def forecast_table(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """Forecast every series of the ``--csv`` table: one series (one ``--target``, no item
    column, no ``--output``) goes to ``OUT/forecast.csv`` as ``timestamp, mean, median,
    q0.1 ...``; many go to ``--output`` in long form, the item column first, as they stream.
    Both in the series' own units, with ``forecast.png`` beside."""
    horizon = args.prediction_length
    out = default_out(args, adapter.key, args.csv.stem)
    single = args.item_column is None and len(adapter.targets(args)) == 1 and args.output is None
    path = None if single else forecast_output(args, out)  # a bad --output fails before any work
    table, entries, covariates = read_entries(adapter, args, horizon, forecasting=True)
    adapter.setup(args)
    predictor = adapter.forecaster(args, entries, table.freq, horizon, **covariates)
    recorder = None  # also forecast without the covariates, to say how much they changed
    if _say_in_context(adapter, args):
        recorder = incontext.InContextCovariates(predictor, seed=args.seed, compare=True)
    elif _own_covariates(adapter, args):
        recorder = covariate_effect.with_and_without(predictor)
    forecaster = calibration.calibrated(recorder or predictor, getattr(args, "calibrate_windows", None))
    quantiles = getattr(args, "quantiles", None) or QUANTILES
    what = f"{horizon} x {table.freq}"
    if single:
        _write_one(
            adapter,
            args,
            table,
            entries[0],
            forecaster,
            out,
            quantiles,
            f"{adapter.name} forecast of {args.target[0]} ({what})",
        )
    else:
        count = len(entries)
        title = f"{adapter.name} forecast of {args.csv.name} ({what}; {count} series)"
        path, rows, png = evaluation.forecast_table_file(
            forecaster,
            table,
            path,
            title,
            num_samples=args.num_samples,
            quantiles=quantiles,
            progress=not getattr(args, "quiet", False),
        )
        print(f"wrote {path} ({count} series x {horizon} steps, {rows} rows) and {png}")
    if recorder is not None:
        record = covariate_effect.summary(recorder.records, recorder.method)
        _say_effect(record, recorder)
        say_wrote(write_covariate_effect(out, record))
    adapter.save(args, predictor, entries, out)  # the raw predictor
    return 0


def _write_one(adapter, args, table, entry: dict, predictor, out, quantiles, title: str) -> None:
    """One series' forecast: ``OUT/forecast.csv`` (timestamp, mean, median, quantiles) and its PNG."""
    forecast_ = next(iter(predictor.predict([entry], num_samples=args.num_samples)))
    item = table.series.name(0)
    history = table.history([item], len(entry["target"]))[item]  # the target up to its last value
    regular = RegularTable(frame=history.to_frame(args.target[0]), freq=table.freq, source=str(args.csv))
    say_wrote(*evaluation.write_forecast(out, regular, args.target[0], forecast_, title, quantiles=quantiles))


# --------------------------------------------------------------------------- backtest


def backtest(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """``backtest``: rolling windows on ``--csv``, else the ``--dataset``'s test split
    (default: ett_small_1h)."""
    adapter.check(args)
    check_table_source(args, TABLE_ONLY, needs_target=not adapter.joint(args))
    _check_calibration(adapter, args)
    if args.csv is not None:
        if adapter.joint(args):
            return multivariate.backtest_table(adapter, args)
        return backtest_table(adapter, args)
    args.dataset = args.dataset or "ett_small_1h"
    return backtest_dataset(adapter, args, baseline=args.baseline)


def backtest_table(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """Rolling-origin windows on every series of the ``--csv`` table through the shared
    ``rolling_backtest``: the model trains on each series' part before the first window (or
    forecasts zero-shot), beside SeasonalNaive; the shared report (metrics.json,
    item_metrics.csv, backtest.png)."""
    horizon, windows = args.prediction_length, args.windows or 1
    table, entries, covariates = read_entries(adapter, args, horizon, forecasting=False)
    adapter.setup(args)
    mode, model = adapter.backtester(args, table.freq, horizon, **covariates)
    print(
        f"{adapter.name} {mode} on {args.csv.name}: {len(entries)} series (freq {table.freq}), "
        f"{windows} window(s) of {horizon}",
        flush=True,
    )
    recorders: list = []
    derived, with_label, without_label = _effect_models(adapter, args, recorders)
    derived = {**derived, **_calibrated_models(adapter, args, adapter.name)}
    started = time.time()
    result = evaluation.rolling_backtest(
        entries,
        model,
        horizon,
        windows=windows,
        distance=args.distance,
        num_samples=args.num_samples,
        name=adapter.name,
        progress=not getattr(args, "quiet", False),
        derived=derived,
    )
    if result.skipped:
        print(
            f"skipped {len(result.skipped)} series too short for {windows} window(s) of {horizon} "
            f"(e.g. {_some(result.skipped)})"
        )
    print(evaluation.compare_metrics_table(result.metrics), flush=True)
    effect = _effect_record(recorders, result.metrics, with_label, without_label)
    if effect:
        _say_effect(effect["covariate_effect"], recorders[0])
    extra = {
        "csv": str(args.csv),
        "model": adapter.name,
        "mode": mode,
        "train_seconds": adapter.train_seconds(model),
        "seconds": time.time() - started,
        **adapter.record(args),
        "pretraining": leakage.announce(adapter.pretraining_record(args), args.csv.name),
        **effect,
    }
    title = f"{adapter.name} {mode.split(' with ')[0]} — {args.csv.name}, {windows} window(s)"
    say_wrote(*evaluation.write_backtest_report(default_out(args, adapter.key, args.csv.stem), result, title, extra))
    return 0


def backtest_dataset(adapter: ModelAdapter, args: argparse.Namespace, baseline: bool) -> int:
    """The dataset's test split (GluonTS's ``make_evaluation_predictions`` and ``Evaluator``),
    the model trained first on its train split unless it forecasts zero-shot; SeasonalNaive
    beside it with ``baseline``. Writes ``metrics.json`` and ``forecasts.png``."""
    adapter.setup(args)
    dataset, freq, horizon = dataset_and_horizon(args)
    if adapter.joint(args):
        return multivariate.backtest_dataset(adapter, args, dataset, freq, horizon)
    mode, model = adapter.backtester(args, freq, horizon)
    started = time.time()
    predictor = model if hasattr(model, "predict") else model.train(dataset.train)
    train_seconds = 0.0 if predictor is model else time.time() - started
    print(f"{adapter.name} {mode} on {args.dataset} (freq {freq}, horizon {horizon})", flush=True)
    label = adapter.dataset_label(args, mode)
    predictors = {label: predictor}
    predictors.update({name: wrap(predictor) for name, wrap in _calibrated_models(adapter, args, label).items()})
    if baseline:
        predictors["SeasonalNaive"] = evaluation.seasonal_naive_baseline(freq, horizon)
    metrics, forecasts, tss = evaluation.compare_backtests(
        predictors,
        dataset.test,
        num_samples=args.num_samples,
        max_series=args.max_series,
        progress=not getattr(args, "quiet", False),
    )
    print(evaluation.compare_metrics_table(metrics), flush=True)
    record = {
        "dataset": args.dataset,
        "model": adapter.name,
        "mode": mode,
        "prediction_length": horizon,
        "series": len(forecasts),
        "train_seconds": train_seconds,
        **adapter.record(args),
        "pretraining": leakage.announce(adapter.pretraining_record(args), args.dataset),
        "metrics": metrics,
    }
    title = f"{adapter.name} {mode.split(' with ')[0]} — {args.dataset}"
    say_wrote(*evaluation.write_report(default_out(args, adapter.key, args.dataset), record, forecasts, tss, title))
    return 0


# --------------------------------------------------------------------------- train


def train(adapter: ModelAdapter, args: argparse.Namespace) -> int:
    """``train`` (Lag-Llama's ``finetune``): train on the ``--csv`` table (read as ``forecast``
    reads it) or on the ``--dataset``'s train split, each series' last horizon held out to
    validate on; ``--save`` the model (the path checked before any training); write
    ``OUT/metrics.json`` with the training record, and with ``--dataset`` score its test split
    beside SeasonalNaive and the model's references (Lag-Llama: its checkpoint zero-shot)."""
    if (args.dataset is None) == (args.csv is None):
        raise CLIError("give one of --dataset NAME or --csv FILE")
    adapter.check(args)
    check_table_source(args, TABLE_ONLY, needs_target=not adapter.joint(args))
    if adapter.joint(args) and args.dataset is not None:
        raise CLIError(
            f"{args.command} trains a joint model of several columns on a table: give --csv FILE "
            "(a repository dataset's series are scored jointly by backtest --dataset)"
        )
    out = default_out(args, adapter.key, args.dataset or args.csv.stem)
    save = adapter.save_path(args, out)
    check_save_path(save, folder=adapter.saves_folder, marker=adapter.saved_marker)
    if args.csv is not None:
        dataset, source, horizon = None, {"csv": str(args.csv)}, args.prediction_length
        freq, entries, covariates = _training_table(adapter, args)
        where = f"{args.csv.name}: {len(entries)} series (freq {freq})"
    else:
        dataset, freq, horizon = dataset_and_horizon(args)
        source, entries, covariates = {"dataset": args.dataset}, list(dataset.train), {}
        where = f"{args.dataset}'s train split (freq {freq})"
    covariates = adapter.training_covariates(args, covariates)
    adapter.setup(args)
    validate = adapter.validates(args)
    fit, validation = training_split(entries, horizon, validate, keep_short=adapter.train_short_series)
    counts = _say_short(entries, fit, validation, horizon, validate)
    # Lag-Llama's fine-tuning re-cuts this split into up to its last 3 horizons (finetune.py) and says so below
    print(f"{adapter.name}: training on {where}" + (", validated on held-out last horizons" if validation else ""))
    trained = adapter.fit(args, fit, validation, freq, horizon, **covariates)
    if trained.record.get("covariates_summary"):  # Lag-Llama's fine-tuning with covariates (includes the next)
        print(trained.record["covariates_summary"])
    elif trained.record.get("selection_summary"):  # Lag-Llama's keep-if-better: which weights and why
        print(trained.record["selection_summary"])
    record = {**source, "model": adapter.name, "prediction_length": horizon, **adapter.record(args)}
    record.update({args.canonical_command: trained.record, "series": len(entries), **counts})
    if save is not None:
        record["saved"] = str(adapter.save_model(args, trained, save, source))
        print(f"wrote {record['saved']}")
    if dataset is None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / evaluation.METRICS_FILE, record)
        print(f"wrote {out / evaluation.METRICS_FILE}")
        return 0
    label = adapter.trained_label or adapter.name
    models = {label: trained.predictor, **adapter.references(args, freq, horizon)}
    models["SeasonalNaive"] = evaluation.seasonal_naive_baseline(freq, horizon)
    metrics, forecasts, tss = evaluation.compare_backtests(
        models, dataset.test, args.num_samples, args.max_series, progress=not getattr(args, "quiet", False)
    )
    print(evaluation.compare_metrics_table(metrics), flush=True)
    record.update(series=len(forecasts), metrics=metrics)
    title = f"{adapter.name} {'trained' if label == adapter.name else label} — {args.dataset}"
    say_wrote(*evaluation.write_report(out, record, forecasts, tss, title))
    return 0


def _training_table(adapter: ModelAdapter, args: argparse.Namespace):
    """The ``--csv`` table to train on: ``(freq, entries, covariate arguments)``; in joint
    mode one entry, the columns stacked (``target_dim`` among the arguments)."""
    if adapter.joint(args):
        table, entry, _, covariates = multivariate.read_joint(adapter, args)
        return table.freq, [entry], covariates
    table, entries, covariates = read_entries(adapter, args, args.prediction_length, forecasting=False)
    return table.freq, entries, covariates


def _say_short(entries: Sequence[dict], fit, validation, horizon: int, validate: bool) -> dict:
    """Count and say the series that were too short to give up their last ``horizon`` steps:
    left out (``skipped``), or trained on whole without validation (``unvalidated``)."""
    if not validate:
        return {}
    skipped, unvalidated = len(entries) - len(fit), len(fit) - len(validation or [])
    need = f"shorter than {2 * horizon + 1} steps (too short to give up their last {horizon} for validation)"
    if skipped:
        print(f"skipped {skipped} series {need}")
    if unvalidated:
        print(f"{unvalidated} series {need} train whole, unvalidated")
    return {"skipped": skipped, **({"unvalidated": unvalidated} if unvalidated else {})}


# --------------------------------------------------------------------------- training helpers


def training_split(entries: Sequence[dict], horizon: int, validate: bool, keep_short: bool = True):
    """``(train, validation)`` for a model of many series. With ``validate``: each series
    without its last ``horizon`` steps to train on, and the full series to score those windows
    (the shared ``holdout_last_window``; a series too short to give its window up trains whole,
    unvalidated, or with ``keep_short=False`` is left out); validation drives checkpoint choice
    and ``--patience``."""
    if not validate:
        return list(entries), None
    fit, validation = evaluation.holdout_last_window(entries, horizon, keep_short=keep_short)
    # a series observed only in its last ``horizon`` steps has nothing left to train on
    fit = [_known_past(e) for e in fit if not np.isnan(np.asarray(e["target"], dtype=float)).all()]
    return fit, validation or None


class TrainBeforeWindows:
    """An estimator as the backtests train it: on each series' part before the first window
    (a dataset: its train split), with ``validate`` the last horizon of each part held out to
    validate on (early stopping); the predictor forecasts ``batch_size`` series a batch."""

    def __init__(self, estimator, prediction_length: int, validate: bool, batch_size: int, **train_kwargs):
        self.estimator, self.prediction_length = estimator, prediction_length
        self.validate, self.batch_size, self.train_kwargs = validate, batch_size, train_kwargs
        self.seconds = 0.0

    def train(self, training_data):
        entries = [_known_past(entry) for entry in training_data]
        fit, validation = training_split(entries, self.prediction_length, self.validate)
        began = time.time()
        predictor = self.estimator.train(fit, validation_data=validation, **self.train_kwargs)
        self.seconds = time.time() - began
        predictor.batch_size = self.batch_size
        return predictor


def _known_past(entry: dict) -> dict:
    """``entry`` as a model trains on it: its known-future covariates over the target's span
    (a forecast's entries carry the horizon's values too)."""
    known = entry.get("feat_dynamic_real")
    length = np.shape(entry["target"])[-1]
    if known is None or np.shape(known)[-1] == length:
        return entry
    return {**entry, "feat_dynamic_real": np.asarray(known)[:, :length]}


def check_longest(entries: Sequence[dict], context_length: int, horizon: int) -> None:
    """A model trained on ``entries`` sees one full window: the longest series fills one
    context and one horizon (shorter ones are padded, but a model that never saw a full window
    has little to learn)."""
    lengths = [np.shape(e["target"])[-1] for e in entries]  # time is the last axis, also of D x T
    longest = max(range(len(entries)), key=lengths.__getitem__)
    if lengths[longest] < context_length + horizon:
        which = f"the longest series ({entries[longest].get('item_id', longest)!r}) has " if len(entries) > 1 else ""
        raise CLIError(
            f"too few rows: {which}{lengths[longest]} time steps, but context length {context_length} + "
            f"prediction length {horizon} = {context_length + horizon} are needed "
            "(lower --context-length or --prediction-length)"
        )
