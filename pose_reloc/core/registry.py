# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""A name -> value registry whose entries register themselves when their module is imported.

Training methods, their model configs and localizers are found this way: adding a method is
a new module that calls ``register`` at import, and no list to edit.
"""

import importlib
from typing import Any, Callable, Dict, Generic, List, Type, TypeVar

V = TypeVar('V')


class LazyRegistry(Generic[V]):
    """Values by name; a missing name imports ``module_for(name)`` once and looks again.

    Args:
        kind: what the values are, for error messages (``'training method'``).
        module_for: the module that registers ``name`` when imported.
        error: exception type raised for an unknown name.
    """

    def __init__(self, kind: str, module_for: Callable[[str], str],
                 error: Type[Exception] = ValueError):
        """Create an empty registry (see the class docstring)."""
        self.kind = kind
        self.module_for = module_for
        self.error = error
        self._values: Dict[str, V] = {}

    def register(self, name: str, value: V) -> None:
        """Register (or replace) ``name``."""
        self._values[name] = value

    def names(self) -> List[str]:
        """Return the names registered so far, sorted."""
        return sorted(self._values)

    def get(self, name: Any) -> V:
        """Return the value of ``name``, importing its module on first use.

        Raises:
            error: (the registry's type) if no module registers ``name``; an import
                error inside that module propagates as it is.
        """
        if not isinstance(name, str):
            raise self.error(f'{self.kind} must be a name, got {name!r}')
        if name not in self._values:
            module = self.module_for(name)
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
            if name not in self._values:
                raise self.error(f'unknown {self.kind} {name!r} '
                                 f'(known: {", ".join(self.names()) or "none registered"})')
        return self._values[name]
