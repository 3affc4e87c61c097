"""Where a checkpoint argument points: a local file, the bundled checkpoint, or a file on the
Hugging Face Hub (:func:`resolve_checkpoint`, and :func:`checkpoint_path`, the command line's
``--checkpoint`` type).

Accepted forms, everywhere a checkpoint is taken (``load_predictor``, ``read_checkpoint``,
``LagLlamaEstimator.from_checkpoint``, ``finetune``, ``--checkpoint``):

* ``None`` (nothing): the bundled checkpoint;
* a local path (``str`` or :class:`~pathlib.Path`);
* a Hub reference ``OWNER/NAME[@REVISION][:FILE]``, e.g. ``time-series-foundation-models/Lag-Llama``
  (the released weights), ``time-series-foundation-models/Lag-Llama@<commit or tag>``,
  ``me/my-model:tuned.ckpt``. ``REVISION`` is a branch, tag or commit (default ``main``),
  ``FILE`` a file in the repository (default ``lag-llama.ckpt``).

A Hub file is fetched with ``huggingface_hub.hf_hub_download`` (the optional extra ``hub``:
``pip install 'lagllama-gluonts[hub]'``), so it is cached where ``huggingface_hub`` caches
(``HF_HOME``/``HF_HUB_CACHE``) and ``HF_HUB_OFFLINE=1`` uses that cache alone. The file is then
read like any other checkpoint, weights-only (:func:`~lagllama_gluonts.checkpoint.read_checkpoint`).

Kept free of torch imports: the command line uses :func:`checkpoint_path` to parse arguments.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .defaults import BUNDLED_CHECKPOINT

RELEASED_REPO = "time-series-foundation-models/Lag-Llama"
DEFAULT_FILENAME = "lag-llama.ckpt"
INSTALL_HINT = "pip install 'lagllama-gluonts[hub]'"
SPEC_HELP = "OWNER/NAME[@REVISION][:FILE], FILE by default lag-llama.ckpt"

# OWNER/NAME with the characters the Hub allows in each part, then optional @REVISION (a branch
# may hold '/', e.g. refs/pr/1) and :FILE (a file in a subfolder holds '/').
_SPEC = re.compile(
    r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[^@:]+))?(?::(?P<filename>[^@:]+))?"
)
# A bare ``dir/file.ckpt`` that does not exist is a mistyped path, not a repository: saying
# "checkpoint not found" beats asking the Hub for a repository named "file.ckpt".
_FILE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".safetensors")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, unsafe, not matching the model, or not
    to be had from the Hub. (Defined here, below :mod:`~lagllama_gluonts.checkpoint`, which
    re-exports it, so that Hub errors are checkpoint errors without an import cycle.)"""


class HubError(CheckpointError):
    """A Hub checkpoint that could not be had: repository, revision or file not found, or no
    network (or ``HF_HUB_OFFLINE``) and no cached copy. The message is one line."""


class HubExtraMissing(HubError, ImportError):
    """A Hub reference was given but ``huggingface_hub`` (the ``hub`` extra) is not installed."""


@dataclass(frozen=True)
class HubReference:
    """A file on the Hugging Face Hub: ``repo_id``, ``revision`` (None: ``main``), ``filename``."""

    repo_id: str
    revision: Optional[str] = None
    filename: str = DEFAULT_FILENAME

    def __str__(self) -> str:
        revision = f"@{self.revision}" if self.revision else ""
        return f"{self.repo_id}{revision}:{self.filename}"


def parse_hub_reference(spec: str) -> Optional[HubReference]:
    """The Hub file ``spec`` names, or None when ``spec`` is to be read as a local path.

    The rules, in order: an existing path is always a path (a local folder named like a
    repository wins, so nothing on disk is ever shadowed); ``OWNER/NAME[@REVISION][:FILE]``
    with exactly one '/' before any '@' or ':' is a Hub reference (a relative path of two
    parts would look the same, hence the first rule); anything else is a path, and so is a
    bare ``dir/name.ckpt`` (a missing local file, not a repository named like a file).
    """
    if Path(spec).exists():
        return None
    match = _SPEC.fullmatch(spec)
    if match is None:
        return None
    repo, revision, filename = match.group("repo", "revision", "filename")
    if "--" in repo or ".." in repo or repo.endswith(".git"):
        return None  # names the Hub refuses: more likely a path
    if revision is None and filename is None and repo.lower().endswith(_FILE_SUFFIXES):
        return None
    return HubReference(repo, revision, filename or DEFAULT_FILENAME)


def resolve_checkpoint(spec: Union[str, Path, None] = None) -> Path:
    """The local file a checkpoint argument stands for (see the module doc for the forms).

    ``None`` is the bundled checkpoint, a :class:`~pathlib.Path` is always a path, a string is
    a path or a Hub reference (:func:`parse_hub_reference`), downloaded or found in the Hub
    cache. Existence of a local path is checked by the reader, not here. Raises
    :class:`HubError` (:class:`HubExtraMissing` without ``huggingface_hub``), one line each.
    """
    if spec is None:
        return BUNDLED_CHECKPOINT
    if isinstance(spec, Path):
        return spec
    reference = parse_hub_reference(str(spec))
    return Path(spec) if reference is None else download(reference)


def download(reference: HubReference) -> Path:
    """The cached local copy of a Hub file, downloaded when needed (``hf_hub_download``)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise HubExtraMissing(
            f"{reference.repo_id!r} is a Hugging Face Hub repository (or a missing local path): "
            f"reading checkpoints from the Hub needs huggingface_hub: {INSTALL_HINT}"
        ) from None
    try:
        path = hf_hub_download(reference.repo_id, reference.filename, revision=reference.revision)
    except Exception as error:  # huggingface_hub's and httpx's errors: one line of ours instead
        raise HubError(_explain(reference, error)) from None
    return Path(path)


def _explain(reference: HubReference, error: Exception) -> str:
    """One line saying why ``reference`` could not be had (``error``: what huggingface_hub raised)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{reference} from the Hugging Face Hub"
    # checked before EntryNotFoundError, its parent: nothing cached and the Hub not asked or unreachable
    if isinstance(error, LocalEntryNotFoundError):
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached (no network?)"
        return f"cannot get {where}: {why} and it is not in the Hugging Face cache {constants.HF_HUB_CACHE}"
    if isinstance(error, GatedRepoError):
        return f"cannot get {where}: a gated repository; accept its terms on huggingface.co, then hf auth login"
    if isinstance(error, RepositoryNotFoundError):
        return (
            f"cannot get {where}: no such repository (or a private one: log in with hf auth login), "
            f"and no local file {reference.repo_id!r}"
        )
    if isinstance(error, RevisionNotFoundError):
        return f"cannot get {where}: no revision {reference.revision!r} in {reference.repo_id}"
    if isinstance(error, EntryNotFoundError):
        return f"cannot get {where}: no file {reference.filename!r} in {reference.repo_id} at that revision"
    if isinstance(error, HFValidationError):
        return f"cannot get {where}: not a valid Hub reference ({SPEC_HELP})"
    detail = (str(error).strip().splitlines() or [""])[0]
    return f"cannot get {where}: {type(error).__name__}: {detail}"


def checkpoint_path(text: str) -> Path:
    """argparse type of a checkpoint (``--checkpoint``, ``info``'s argument): an existing file
    or a Hub reference, resolved (downloaded if needed) before any work; errors are usage errors."""
    try:
        path = resolve_checkpoint(text)
    except HubError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a checkpoint file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"checkpoint not found: {text!r}")
    return path
