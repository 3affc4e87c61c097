"""Safe reading and writing of Lag-Llama checkpoints.

The released ``lag-llama.ckpt`` is a Lightning checkpoint written under GluonTS 0.14. Its
pickle holds two objects besides tensors and plain containers: a ``StudentTOutput`` and a
``gluonts.torch.modules.loss.NegativeLogLikelihood`` (a module GluonTS has since removed).
We read it with ``torch.load(weights_only=True)``, allow-listing exactly those two names,
bound to inert stand-ins that only record their pickled state: nothing from the file is
ever constructed or called. Any other global is refused with an error that names it.

Checkpoints we write hold only tensors and plain data (the distribution is stored as its
GluonTS serde encoding), so they load with ``weights_only=True`` with no allow-list.

:func:`read_checkpoint` is the one way in: it checks and loads the file once and returns a
:class:`Checkpoint` (path, model kwargs, the network's weights, the rest of the hyper-parameters).
Everything that needs a checkpoint (``load_predictor``, ``LagLlamaEstimator.from_checkpoint``,
``finetune``, the command line) takes that object, so one call reads one file once.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch
from gluonts.core import serde
from gluonts.torch.distributions import DistributionOutput, StudentTOutput

from .common import jsonio
from .common.atomic import atomic_path
from .defaults import BUNDLED_CHECKPOINT  # noqa: F401  (re-exported: the path None stands for)
from .hub import CheckpointError, resolve_checkpoint  # noqa: F401  (CheckpointError's home is below us)

PathLike = Union[str, Path]


@dataclass
class Checkpoint:
    """A Lag-Llama checkpoint as read, once, by :func:`read_checkpoint`.

    ``model_kwargs`` are :class:`~lagllama_gluonts.module.LagLlamaModel`'s keyword arguments
    (``distr_output`` decoded, ``lags_seq`` the reference's 0-based indices), ``state_dict``
    the network's weights without Lightning's ``model.`` prefix, ``extra`` the other
    hyper-parameters (e.g. ``training``, the record ``pretrain`` and ``finetune --save`` write).
    """

    path: Path
    model_kwargs: Dict[str, Any]
    state_dict: Dict[str, torch.Tensor]
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def training(self) -> Dict[str, Any]:
        """The training record stored with the weights ({} when there is none)."""
        return dict(self.extra.get("training") or {})

    @property
    def context_length(self) -> int:
        """The context the checkpoint was trained with (the reference's 32 when unrecorded)."""
        return int(self.model_kwargs.get("context_length", 32))

    @property
    def covariates(self) -> Dict[str, Any]:
        """The covariate configuration the checkpoint was trained with ({} for none, as every released one)."""
        return covariate_config(self.model_kwargs)

    def load_into(self, model: torch.nn.Module) -> None:
        """Load the weights into ``model`` strictly (see :func:`load_model_weights`).

        One exception: a checkpoint trained without covariates loads into a model built with
        them (fine-tuning the released model with covariates); the covariate weights, which
        the file cannot have, keep their initial value, zero for the projection, so the
        model forecasts as the checkpoint does until it is trained.
        """
        fresh = (COVARIATE_PREFIX,) if not self.covariates else ()
        if not self.model_kwargs.get("covariate_regression"):  # the pathway pretraining adds (zero output)
            fresh += (PATHWAY_PREFIX,)
        fresh += (PATHWAY_PREFIX + "shift.",)  # the pathway's location term, at zero in its first version
        load_model_weights(model, self.state_dict, source=str(self.path), fresh=fresh)

    def to_dict(self) -> Dict[str, Any]:
        """The checkpoint in the released layout, plain data only (what :func:`save_checkpoint` writes)."""
        kwargs = dict(self.model_kwargs)
        kwargs["distr_output"] = encode_distr_output(kwargs["distr_output"])
        return {
            "state_dict": {f"model.{k}": v.detach().cpu() for k, v in self.state_dict.items()},
            "hyper_parameters": {"model_kwargs": kwargs, **self.extra},
            "format": "lagllama_gluonts/1",
        }


class _PickledRecord:
    """Inert stand-in for an object pickled in the released checkpoint.

    The weights-only unpickler creates it with ``__new__`` and hands it the pickled
    state; we keep that state as data and never import or run the original class.
    """

    pickled_name = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_name}>"


class _StudentTOutputRecord(_PickledRecord):
    pickled_name = "gluonts.torch.distributions.studentT.StudentTOutput"


class _NegativeLogLikelihoodRecord(_PickledRecord):
    pickled_name = "gluonts.torch.modules.loss.NegativeLogLikelihood"


_RECORDS = (_StudentTOutputRecord, _NegativeLogLikelihoodRecord)
_ALLOWED_BY_US = {cls.pickled_name for cls in _RECORDS} | {
    "collections.OrderedDict",
    "builtins.set",
    "__builtin__.set",
}


def _torch_allowed_globals() -> set:
    try:
        from torch import _weights_only_unpickler as wou

        return set(wou._get_allowed_globals())
    except Exception:  # private API: the unpickler itself remains the final guard
        return set()


def pickled_globals(path: PathLike) -> List[str]:
    """Every global (``module.name``) the checkpoint's pickle refers to, read without unpickling."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith("data.pkl")]
            if not names:
                raise CheckpointError(f"{path}: no data.pkl inside; not a PyTorch checkpoint")
            data = zf.read(names[0])
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        raise CheckpointError(f"{path} is corrupt or truncated: {err}") from None
    found: List[str] = []
    strings: List[str] = []
    memo: Dict[int, Any] = {}
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name == "GLOBAL":
                found.append(arg.replace(" ", "."))
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
                memo[arg] = strings[-1]
            elif op.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and isinstance(memo.get(arg), str):
                strings.append(memo[arg])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    except Exception as err:
        raise CheckpointError(f"{path}: corrupt pickle in checkpoint ({err})") from err
    return found


def _check_globals(path: PathLike) -> None:
    torch_allowed = _torch_allowed_globals()
    if not torch_allowed:
        return  # cannot enumerate torch's list; torch.load(weights_only=True) still guards
    allowed = torch_allowed | _ALLOWED_BY_US
    bad = sorted({g for g in pickled_globals(path) if g not in allowed})
    if bad:
        raise CheckpointError(
            f"refusing to load {path}: its pickle references {', '.join(repr(b) for b in bad)}, "
            "which is not a tensor, a plain container, or one of the two objects the released "
            "Lag-Llama checkpoint is known to hold (StudentTOutput, NegativeLogLikelihood). "
            "Nothing from the file was executed."
        )


def read_checkpoint(path: Union[PathLike, Checkpoint, None] = None) -> Checkpoint:
    """Load a Lag-Llama checkpoint (released or ours) safely, with ``weights_only=True``.

    ``path``: a local file, None for the bundled checkpoint, or a Hugging Face Hub reference
    ``OWNER/NAME[@REVISION][:FILE]`` (e.g. ``time-series-foundation-models/Lag-Llama``; FILE
    defaults to ``lag-llama.ckpt``), fetched into the Hub cache with the ``hub`` extra
    (:func:`~lagllama_gluonts.hub.resolve_checkpoint`: an existing path always wins). The file
    is scanned for the globals its pickle names, then loaded, once. The released file's
    pickled ``distr_output`` and ``loss`` become plain data; the architecture is checked, so
    a bad file fails here, naming itself, not deep inside the model. A :class:`Checkpoint`
    passes through unchanged (callers accept either).
    """
    if isinstance(path, Checkpoint):
        return path
    path = resolve_checkpoint(path)  # a HubError (a CheckpointError) when the Hub cannot serve it
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a PyTorch zip checkpoint (corrupt, truncated, or another format)")
    _check_globals(path)
    safe = [(cls, cls.pickled_name) for cls in _RECORDS]
    try:
        with torch.serialization.safe_globals(safe):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        match = re.search(r"GLOBAL ([\w.]+)", str(err))
        offender = f" (offending global: {match.group(1)})" if match else ""
        raise CheckpointError(f"refusing to load {path}: unsafe pickle{offender}") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        raise CheckpointError(f"{path} is corrupt or truncated: {err}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} has no 'state_dict': not a Lightning checkpoint")
    try:
        hyper_parameters = dict(ckpt["hyper_parameters"])
        model_kwargs = dict(hyper_parameters.pop("model_kwargs"))
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path} has no hyper_parameters['model_kwargs']: not a Lag-Llama checkpoint") from None
    try:
        model_kwargs["distr_output"] = decode_distr_output(model_kwargs.get("distr_output"))
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    _check_architecture(path, model_kwargs)
    hyper_parameters.pop("loss", None)  # a pickled record, or a custom loss's name: code is not kept
    state_dict = model_state_dict(ckpt)
    _check_finite(path, state_dict)
    return Checkpoint(path=path, model_kwargs=model_kwargs, state_dict=state_dict, extra=hyper_parameters)


def training_text(ckpt: Checkpoint) -> str:
    """The training record as JSON, or one line saying it is not plain data (a tensor, a set, a
    stand-in for a pickled object): shown as read, never decoded or run."""
    try:
        return jsonio.dumps(ckpt.training)
    except (TypeError, ValueError) as error:
        kinds = sorted({type(v).__name__ for v in ckpt.training.values()})
        return f"training record: not plain data, not shown ({type(error).__name__}: {error}; value types {kinds})"


def _check_finite(path: Path, state_dict: Dict[str, torch.Tensor]) -> None:
    """Every weight finite: a NaN or an infinity would only surface as a torch distribution error
    (``Expected parameter df ...``) at the first forecast, far from the file that carries it."""
    for name, tensor in state_dict.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(
                f"{path}: weight {name!r} holds {bad} non-finite value(s) (NaN or infinity) of {tensor.numel()}; "
                "the checkpoint is damaged (a diverged training run?)"
            )


def _check_architecture(path: Path, kwargs: Dict[str, Any]) -> None:
    """The stored sizes must build a model: name the file and the field, not a torch error."""
    for name in ("n_layer", "n_head", "n_embd_per_head"):
        value = kwargs.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"{path}: model_kwargs[{name!r}] must be a positive integer, got {value!r}")
    if kwargs["n_embd_per_head"] % 2:
        raise CheckpointError(
            f"{path}: n_embd_per_head must be even (rotary embeddings rotate pairs), got {kwargs['n_embd_per_head']}"
        )
    lags = kwargs.get("lags_seq")
    if not lags or not all(isinstance(lag, int) and lag >= 0 for lag in lags):
        raise CheckpointError(f"{path}: model_kwargs['lags_seq'] must be non-empty 0-based lag indices")


def encode_distr_output(distr_output: DistributionOutput) -> dict:
    # through JSON, so that only str/float/dict remain (serde's encoding holds enums)
    return json.loads(serde.dump_json(distr_output))


def decode_distr_output(value: Any) -> DistributionOutput:
    """A ``DistributionOutput`` from what a checkpoint stores for it."""
    if value is None or isinstance(value, _StudentTOutputRecord):
        return StudentTOutput()
    if isinstance(value, DistributionOutput):
        return value
    if isinstance(value, dict) and value.get("__kind__") == "instance":
        cls = str(value.get("class", ""))
        # decoding imports the named class: only GluonTS's own distribution outputs
        if not cls.startswith("gluonts.torch.distributions."):
            raise CheckpointError(f"distribution class {cls!r} is not a GluonTS torch distribution output")
        try:
            decoded = serde.decode(value)
        except Exception as error:  # serde's own errors are of every kind: one line naming the payload
            raise CheckpointError(f"cannot decode the stored distr_output {cls!r}: {error}") from None
        if not isinstance(decoded, DistributionOutput):
            raise CheckpointError(f"the stored distr_output {cls!r} is not a DistributionOutput")
        return decoded
    raise CheckpointError(f"cannot interpret distr_output {value!r} stored in the checkpoint")


def model_state_dict(ckpt: Union[Dict[str, Any], Checkpoint]) -> Dict[str, torch.Tensor]:
    """The network's parameters, with the Lightning ``model.`` prefix removed."""
    if isinstance(ckpt, Checkpoint):
        return ckpt.state_dict
    state = ckpt["state_dict"]
    return {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}


# the parameters of LagLlamaModel's covariate path (``LagLlamaModel.covariates``) and of its
# pretrained covariate pathway (``LagLlamaModel.covariate_regression``)
COVARIATE_PREFIX = "covariates."
PATHWAY_PREFIX = "covariate_regression."
COVARIATE_KWARGS = (
    "num_feat_dynamic_real",
    "num_past_feat_dynamic_real",
    "num_feat_static_real",
    "num_feat_static_cat",
    "cardinality",
    "embedding_dimension",
    "covariate_scaling",
)


def covariate_config(model_kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The covariate entries of ``model_kwargs`` when it has covariates, else {}."""
    counts = [model_kwargs.get(name) or 0 for name in COVARIATE_KWARGS[:4]]
    if not any(counts):
        return {}
    return {name: model_kwargs[name] for name in COVARIATE_KWARGS if model_kwargs.get(name) is not None}


def describe_covariates(config: Dict[str, Any]) -> str:
    """``config``'s covariate settings that are set, as ``name=value, ...``."""
    return ", ".join(f"{k}={v}" for k, v in config.items() if v not in (None, 0))


def load_model_weights(
    model: torch.nn.Module, state: Dict[str, torch.Tensor], source: str = "checkpoint", fresh: tuple = ()
) -> None:
    """Load ``state`` into ``model`` strictly; an architecture mismatch names what differs.

    (The reference loads with ``strict=False`` and silently drops what does not fit.)
    Parameters whose names start with one of ``fresh`` may be absent from ``state`` (all of
    them, then): they keep the model's values.
    """
    expected = model.state_dict()
    for prefix in fresh:  # each path whole from the file, or whole at the model's initial values
        new = {k for k in expected if k.startswith(prefix)}
        if new and not new & set(state):
            state = {**state, **{k: expected[k] for k in new}}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        lines = [f"{source} does not match the requested architecture:"]
        lines += [f"  shape differs  {s}" for s in shapes[:20]]
        if len(shapes) > 20:
            lines.append(f"  ... and {len(shapes) - 20} more shape differences")
        lines += [f"  missing in checkpoint  {k}" for k in missing[:10]]
        lines += [f"  not in model  {k}" for k in unexpected[:10]]
        if len(missing) > 10 or len(unexpected) > 10:
            lines.append(f"  ({len(missing)} missing, {len(unexpected)} unexpected in all)")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state, strict=True)


def save_checkpoint(
    path: PathLike, model, model_kwargs: Dict[str, Any], leave_out: tuple = (), extra: Optional[dict] = None
) -> Path:
    """Write a checkpoint in the released layout, holding only tensors and plain data. The file
    is replaced only once the new one is complete: a write killed or failed part-way (a full
    disk) leaves the previous checkpoint, or none, never a truncated one. Weights whose names
    start with one of ``leave_out`` are not written."""
    state = {k: v for k, v in model.state_dict().items() if not (leave_out and k.startswith(leave_out))}
    ckpt = Checkpoint(
        path=Path(path), model_kwargs=dict(model_kwargs), state_dict=state, extra=dict(extra or {})
    ).to_dict()
    path = Path(path)
    with atomic_path(path) as temp:
        torch.save(ckpt, temp)
    return path
