"""Lazy package exports, so that `--help` and the light helpers answer without loading torch."""

import importlib
import sys
from typing import Callable, Dict, List, Tuple


def lazy_exports(package: str, homes: Dict[str, str]) -> Tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import each name from its
    submodule (``homes[name]``, relative to the package) on first use, then keep it."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> List[str]:
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
