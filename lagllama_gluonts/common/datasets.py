"""
GluonTS repository datasets, resolved the way GluonTS users expect, or from a local mirror.

GluonTS' :func:`gluonts.dataset.repository.get_dataset` downloads the raw files of each
dataset from the internet, runs a dataset-specific *recipe* that turns them into a train/test
split, and keeps the result in its cache (``~/.gluonts/datasets``: GluonTS reads the home
folder once, at import, into ``gluonts.dataset.repository.datasets.default_dataset_path``).
:func:`get_dataset` here resolves a dataset in this order:

1. GluonTS' cache (``path=``, else GluonTS' own ``default_dataset_path``): a dataset already
   there is loaded from its folder, with no network and no mirror;
2. a *mirror* when one is given -- ``mirror=`` (``--mirror DIR`` on the command line), else
   ``$LAGLLAMA_GLUONTS_MIRROR`` -- a folder of the raw files laid out by URL (the file behind
   ``https://HOST/PATH`` is ``MIRROR/HOST/PATH``): GluonTS' recipe runs unchanged with its
   downloads served from the mirror and every other network access refused;
3. otherwise GluonTS' own recipe and download, as ``gluonts.dataset.repository.get_dataset``
   does. Offline, that fails as one :class:`DatasetUnavailable` line naming the dataset and
   the three ways to provide it, not as urllib's traceback.

Either way the dataset is byte-for-byte what GluonTS' ``get_dataset(NAME)`` produces (same
split, metadata and item order) and lands in GluonTS' cache, generated in a staging folder and
renamed into place, so a failed download never leaves a half-written dataset that GluonTS
would later trust. No mirror is assumed: the package knows no machine's folders.

The recipes take no source path (they read fixed URLs with ``pandas.read_csv``), so the
redirection hooks ``urllib.request.urlopen``; it is scoped to the call and the thread: the
hook is installed only while some call is generating, serves the mirror only in the context
that asked for it (a ``contextvars`` variable), and hands every other caller, in other
threads included, to the original function unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import logging
import os
import shutil
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union
from urllib.parse import urlsplit

from gluonts.dataset.common import TrainDatasets, load_datasets
from gluonts.dataset.repository import datasets as gluonts_datasets

from .errors import DataError

logger = logging.getLogger(__name__)

MIRROR_ENV_VAR = "LAGLLAMA_GLUONTS_MIRROR"

# The repository datasets whose upstream files the shared mirror holds (tests cover each).
MIRRORED_DATASETS = ("ett_small_1h", "exchange_rate", "m4_hourly", "m4_weekly", "airpassengers")

# What a download raises when there is no network (or the host refuses): urllib wraps most in
# URLError; a connection dropped mid-read surfaces as http.client's or socket's own.
_NETWORK_ERRORS = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    socket.herror,
)


def _mirror_and_origin(mirror: Union[Path, str, None]) -> Tuple[Optional[Path], str]:
    # The origin is named in errors, so that a wrong folder can be traced to where it was set.
    if mirror is not None:
        return Path(mirror).expanduser(), "--mirror / mirror="
    env = os.environ.get(MIRROR_ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${MIRROR_ENV_VAR}"
    return None, ""


def resolve_mirror(mirror: Union[Path, str, None] = None) -> Optional[Path]:
    """
    The mirror to use, read at call time.

    Returns
    -------
    Path or None
        ``mirror`` if given, else ``$LAGLLAMA_GLUONTS_MIRROR`` if set and not empty, else
        None: no mirror, GluonTS' own cache and download.
    """
    return _mirror_and_origin(mirror)[0]


class DatasetUnavailable(DataError):
    """
    A repository dataset that is neither in GluonTS' cache nor obtainable: no mirror was given
    and GluonTS' download failed (typically: no network). One line, naming the dataset and the
    three ways to provide it.
    """

    def __init__(self, name: str, cache: Path, reason: str) -> None:
        self.name = name
        self.cache = Path(cache)
        super().__init__(
            f"repository dataset {name!r} could not be had: it is not in GluonTS's cache "
            f"({str(self.cache)!r}) and GluonTS's download failed ({reason}); provide it in one of "
            f"three ways: a mirror of its source files laid out MIRROR/HOST/PATH (--mirror DIR on "
            f"the command line, mirror=DIR in the API), the environment variable "
            f"{MIRROR_ENV_VAR}=DIR, or GluonTS's own download into its cache on a machine with a network",
            field="mirror",
        )


class MirrorFileMissing(FileNotFoundError):
    """
    Raised when a recipe asks for a URL whose file is not in the mirror.

    Parameters
    ----------
    url
        The URL the GluonTS recipe tried to download.
    local_path
        The path inside the mirror where that file was expected.
    """

    def __init__(self, url: str, local_path: Path) -> None:
        self.url = url
        self.local_path = Path(local_path)
        super().__init__(
            f"offline mirror lacks {url!r}: expected the file at "
            f"{str(self.local_path)!r} (mirror layout is MIRROR/HOST/PATH; "
            f"give another mirror with --mirror DIR, mirror=DIR or ${MIRROR_ENV_VAR})"
        )


class NetworkAccessBlocked(ConnectionError):
    """
    Raised when code tries to open a network connection while downloads
    are being redirected to the mirror.

    A recipe that fetches through something other than ``urllib`` (e.g.
    ``requests`` or ``fsspec``) would otherwise hang on a machine without
    network; failing immediately makes the gap in the redirection obvious.
    """


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.split("://", 1)[0] in (
        "http",
        "https",
    )


def mirror_path(url: str, mirror: Union[Path, str]) -> Path:
    """
    Map a download URL to its location inside a mirror.

    Parameters
    ----------
    url
        An ``http(s)://HOST/PATH`` URL; query and fragment are ignored since
        the mirror is keyed by host and path only.
    mirror
        Root directory of the mirror.

    Returns
    -------
    Path
        ``mirror / HOST / PATH``.
    """
    parts = urlsplit(url)
    relative = parts.path.lstrip("/")
    if not parts.hostname or not relative or ".." in relative.split("/"):
        raise ValueError(f"cannot map URL {url!r} into a mirror")
    return Path(mirror) / parts.hostname / relative


# The mirror served to the current context (thread or task); None: no redirection here.
_active_mirror: contextvars.ContextVar[Optional[Path]] = contextvars.ContextVar("mirror", default=None)
# How many redirections are open in the process, and the originals their hooks replaced.
_hook_lock = threading.Lock()
_hook_users = 0
_originals: dict = {}


def _urlopen_hook(url, *args, **kwargs):
    original = _originals["urlopen"]
    root = _active_mirror.get()
    full_url = getattr(url, "full_url", url)
    if root is None or not _is_url(full_url):
        return original(url, *args, **kwargs)
    local = mirror_path(full_url, root)
    if not local.is_file():
        raise MirrorFileMissing(full_url, local)
    logger.info("serving %s from %s", full_url, local)
    # Only the URL is forwarded: request headers and POST data are meaningless for a local file.
    return original(local.resolve().as_uri())


def _getaddrinfo_hook(host, *args, **kwargs):
    root = _active_mirror.get()
    if root is None:
        return _originals["getaddrinfo"](host, *args, **kwargs)
    raise NetworkAccessBlocked(
        f"network access to {host!r} attempted while downloads are "
        f"redirected to the mirror {str(root)!r}; this fetch does not "
        "go through urllib.request.urlopen and cannot be mirrored"
    )


def _install_hooks() -> None:
    global _hook_users
    with _hook_lock:
        if _hook_users == 0:
            _originals.update(urlopen=urllib.request.urlopen, getaddrinfo=socket.getaddrinfo)
            urllib.request.urlopen = _urlopen_hook
            socket.getaddrinfo = _getaddrinfo_hook
        _hook_users += 1


def _remove_hooks() -> None:
    global _hook_users
    with _hook_lock:
        _hook_users -= 1
        if _hook_users == 0:
            urllib.request.urlopen = _originals.pop("urlopen")
            socket.getaddrinfo = _originals.pop("getaddrinfo")


@contextlib.contextmanager
def redirect_downloads(mirror: Union[Path, str, None] = None) -> Iterator[Path]:
    """
    Serve every ``http(s)`` download of this context (thread) from a local mirror.

    All GluonTS recipes fetch through ``urllib.request``: ``pandas.read_csv``
    on a URL calls ``urllib.request.urlopen`` and
    ``urllib.request.urlretrieve`` calls it too. Hooking that single
    function therefore covers both, and the file is actually served by
    urllib's own ``file://`` handler, so callers see a normal response
    (headers, ``read``, ``info``). Any other attempt to resolve a host name
    in this context is refused with :class:`NetworkAccessBlocked` instead of hanging.

    Only the calling context is redirected: other threads keep urllib's and socket's own
    behaviour, and the hooks are removed when the last redirection ends.

    Parameters
    ----------
    mirror
        Root of the mirror; defaults to ``$LAGLLAMA_GLUONTS_MIRROR``. One of the two is required.

    Yields
    ------
    Path
        The mirror root in use.
    """
    root = resolve_mirror(mirror)
    if root is None:
        raise ValueError(f"redirect_downloads needs a mirror: pass mirror=DIR or set ${MIRROR_ENV_VAR}")
    token = _active_mirror.set(root)
    _install_hooks()
    try:
        yield root
    finally:
        _remove_hooks()
        _active_mirror.reset(token)


def default_dataset_path() -> Path:
    """
    GluonTS' dataset cache directory (``~/.gluonts/datasets`` by default).

    Read from GluonTS at call time rather than copied, so that anything
    which reconfigures GluonTS' default is honoured here too.
    """
    return Path(gluonts_datasets.default_dataset_path)


def _check_name(name: str) -> None:
    if name not in gluonts_datasets.dataset_recipes:
        raise KeyError(
            f"{name!r} is not a GluonTS repository dataset; choose one of {sorted(gluonts_datasets.dataset_recipes)}"
        )


def _generate_into_staging(name: str, root: Path, mirror: Optional[Path]) -> Path:
    """
    Run the GluonTS recipe for ``name`` into a fresh staging directory, its downloads served
    from ``mirror``, or (None) from the network as GluonTS' own ``get_dataset`` fetches them.

    Generating next to the final location and renaming afterwards means a
    crash or a missing mirror file never leaves a half-written dataset in
    the cache, where GluonTS would later mistake it for a complete one.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        with redirect_downloads(mirror) if mirror is not None else contextlib.nullcontext():
            return gluonts_datasets.materialize_dataset(name, path=staging, regenerate=True)
    except _NETWORK_ERRORS as error:
        shutil.rmtree(staging, ignore_errors=True)
        if mirror is not None:  # the mirror's own errors say what is missing
            raise
        reason = f"{type(error).__name__}: {getattr(error, 'reason', None) or error}"
        # from None: the user gets the one line, not urllib's traceback
        raise DatasetUnavailable(name, root / name, reason) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish(generated: Path, target: Path, regenerate: bool) -> None:
    """Move a generated dataset into place, tolerating concurrent writers."""
    if regenerate and target.exists():
        shutil.rmtree(target)
    try:
        generated.rename(target)
    except OSError:
        # Another process published the same dataset first; the recipes
        # are deterministic, so its copy is as good as ours.
        if not target.is_dir():
            raise
        logger.info("%s was materialized concurrently; keeping it", target)


def _checked_mirror(mirror: Union[Path, str, None]) -> Optional[Path]:
    root, origin = _mirror_and_origin(mirror)
    if root is not None and not root.is_dir():
        # an explicit mirror that is not there is a mistake, never a reason to go online instead
        raise DataError(f"the dataset mirror {str(root)!r} (from {origin}) is not a folder", field="mirror")
    return root


def materialize_dataset(
    name: str,
    mirror: Union[Path, str, None] = None,
    path: Optional[Path] = None,
    regenerate: bool = False,
) -> Path:
    """
    Ensure a GluonTS repository dataset is in the cache: already there, else generated by
    GluonTS' recipe from the mirror when one is given, else from GluonTS' own download.

    Parameters
    ----------
    name
        GluonTS repository name, for instance ``"m4_hourly"``.
    mirror
        Root of a local mirror (``MIRROR/HOST/PATH``); defaults to ``$LAGLLAMA_GLUONTS_MIRROR``;
        without either, GluonTS downloads the files.
    path
        Cache directory holding one sub-directory per dataset; defaults to
        GluonTS' own (``gluonts.dataset.repository.datasets
        .default_dataset_path``).
    regenerate
        Rebuild the dataset even if it is already in the cache.

    Returns
    -------
    Path
        ``path / name``, containing ``metadata.json``, ``train/`` and
        ``test/`` exactly as GluonTS writes them.

    Raises
    ------
    MirrorFileMissing
        If the mirror lacks a file the recipe needs.
    DatasetUnavailable
        If there is no mirror and GluonTS' download fails.
    DataError
        If the given mirror is not a folder.
    """
    _check_name(name)
    root = Path(path) if path is not None else default_dataset_path()
    target = root / name
    if target.is_dir() and not regenerate:
        return target

    mirror_root = _checked_mirror(mirror)
    root.mkdir(parents=True, exist_ok=True)
    generated = _generate_into_staging(name, root, mirror_root)
    try:
        _publish(generated, target, regenerate)
    finally:
        shutil.rmtree(generated.parent, ignore_errors=True)
    return target


def get_dataset(
    name: str,
    mirror: Union[Path, str, None] = None,
    path: Optional[Path] = None,
    regenerate: bool = False,
) -> TrainDatasets:
    """
    :func:`gluonts.dataset.repository.get_dataset`, with an optional offline mirror.

    Parameters
    ----------
    name
        GluonTS repository name, for instance ``"exchange_rate"``.
    mirror
        Root of a local mirror (``MIRROR/HOST/PATH``); defaults to ``$LAGLLAMA_GLUONTS_MIRROR``;
        without either, GluonTS' cache and download, as GluonTS' own ``get_dataset``.
    path
        Cache directory; defaults to GluonTS' own.
    regenerate
        Rebuild the dataset even if it is already in the cache.

    Returns
    -------
    TrainDatasets
        Loaded by GluonTS itself from the materialized cache entry.
    """
    dataset_dir = materialize_dataset(name, mirror=mirror, path=path, regenerate=regenerate)
    # The dataset is in place now: GluonTS loads it from its folder, as its own get_dataset does.
    return load_datasets(metadata=dataset_dir, train=dataset_dir / "train", test=dataset_dir / "test")
