# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Inference: model bundles, localizers and evaluation.

``load_localizer(bundle)`` reads the bundle's ``method`` and calls the factory registered
for it. Factories register themselves with :func:`register_localizer` when their module is
imported; the module for a method is imported on first use (``apr`` and ``mspn`` ->
``pose_reloc.inference.apr``, ``scr`` -> ``pose_reloc.inference.scr``, any other method
``m`` -> ``pose_reloc.inference.m``).
"""

from pathlib import Path
from typing import Any, Callable, Dict, Union

from pose_reloc.core.bundle import BundleError, read_bundle_config
from pose_reloc.core.registry import LazyRegistry

#: method -> module that registers its localizer factory (imported lazily).
DEFAULT_MODULES: Dict[str, str] = {
    'apr': 'pose_reloc.inference.apr',
    'mspn': 'pose_reloc.inference.apr',
    'scr': 'pose_reloc.inference.scr',
}

LocalizerFactory = Callable[..., Any]
LOCALIZERS: LazyRegistry[LocalizerFactory] = LazyRegistry(
    'localizer method',
    lambda method: DEFAULT_MODULES.get(method, f'pose_reloc.inference.{method}'),
    error=BundleError)


def register_localizer(method: str, factory: LocalizerFactory) -> None:
    """Register ``factory(bundle_path, device='auto', **options) -> Localizer``."""
    LOCALIZERS.register(method, factory)


def localizer_factory(method: str) -> LocalizerFactory:
    """Return the factory for ``method``, importing its module on first use.

    Raises:
        BundleError: if no module provides a localizer for ``method``.
    """
    return LOCALIZERS.get(method)


def load_localizer(bundle_path: Union[str, Path], device: str = 'auto', **options: Any):
    """Load a model bundle as a :class:`~pose_reloc.inference.base.Localizer`.

    Args:
        bundle_path: bundle directory (``config.json`` + ``model.safetensors``).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        **options: method-specific options (e.g. ``mc_samples`` for APR).

    Raises:
        BundleError: for a missing, pickled, foreign or unknown-method bundle.
    """
    config = read_bundle_config(bundle_path)
    return localizer_factory(config['method'])(bundle_path, device=device, **options)


__all__ = ['BundleError', 'load_localizer', 'localizer_factory', 'register_localizer']
