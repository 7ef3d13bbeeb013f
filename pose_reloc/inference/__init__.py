# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Inference: model bundles, localizers and evaluation.

``load_localizer(bundle)`` reads the bundle's ``method`` and calls the factory registered
for it. Factories register themselves with :func:`register_localizer` when their module is
imported; the module for a method is imported on first use (``apr`` and ``mspn`` ->
``pose_reloc.inference.apr``, ``scr`` -> ``pose_reloc.inference.scr``, any other method
``m`` -> ``pose_reloc.inference.m``).

Each factory is registered with the options its localizer accepts (``inference.base.OptionSpec``
rows); :func:`load_localizer` refuses any other option, naming it and the accepted ones, and
:func:`localizer_options` lists them for a method or a bundle, so that callers (the ROS node,
``pose-reloc eval``) forward options without knowing the method.
"""

import os
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Sequence, Tuple, Union

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
#: method -> the ``OptionSpec`` rows its factory accepts.
OPTIONS: Dict[str, Tuple[Any, ...]] = {}


def register_localizer(method: str, factory: LocalizerFactory,
                       options: Sequence[Any] = ()) -> None:
    """Register ``factory(bundle_path, device='auto', **options) -> Localizer``.

    Args:
        method: the bundle ``method`` it loads.
        factory: builds the localizer.
        options: the ``inference.base.OptionSpec`` rows ``factory`` accepts.
    """
    OPTIONS[method] = tuple(options)
    LOCALIZERS.register(method, factory)


def localizer_options(method_or_bundle: Union[str, Path]) -> Tuple[Any, ...]:
    """Return the ``OptionSpec`` rows accepted by a method's localizer.

    Args:
        method_or_bundle: a method name (``'apr'``) or a bundle directory (its
            ``config.json`` names the method); a ``Path``, a string with a path separator
            or an existing directory is a bundle.

    Raises:
        BundleError: for an unreadable bundle or a method without a localizer.
    """
    text = str(method_or_bundle)
    if isinstance(method_or_bundle, Path) or os.sep in text or '/' in text or \
            Path(text).is_dir():
        method_or_bundle = read_bundle_config(method_or_bundle)['method']
    localizer_factory(method_or_bundle)
    return OPTIONS.get(method_or_bundle, ())


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
        **options: the options the method's localizer declares (:func:`localizer_options`;
            e.g. ``mc_samples`` and ``refine_iterations`` for APR, PnP settings for SCR);
            strings are parsed as YAML scalars.

    Raises:
        BundleError: for a missing, pickled, foreign or unknown-method bundle.
        ValueError: for an option the localizer does not accept (naming it and the accepted
            ones) or an invalid value.
    """
    method = read_bundle_config(bundle_path)['method']
    options = _check_method_options(method, options)
    return localizer_factory(method)(bundle_path, device=device, **options)


def check_localizer_options(bundle_path: Union[str, Path],
                            options: Mapping[str, Any]) -> Dict[str, Any]:
    """Validate ``options`` against what the bundle's localizer declares.

    Callers that forward ``name=value`` items from a user (``pose-reloc eval -o``, the node's
    ``localizer_options``) check them here before passing them on as keywords, so that a name
    such as ``device`` is refused as an unknown option instead of colliding with a keyword
    of ``load_localizer`` or ``evaluate`` (a ``TypeError``) or being taken by it.

    Args:
        bundle_path: bundle directory (its ``config.json`` names the method).
        options: ``{name: value}``; strings are parsed as YAML scalars.

    Returns:
        ``{name: converted value}`` for the given options.

    Raises:
        BundleError: for an unreadable bundle or a method without a localizer.
        ValueError: for an option the localizer does not declare (naming it and the
            accepted ones) or an invalid value.
    """
    return _check_method_options(read_bundle_config(bundle_path)['method'], options)


def _check_method_options(method: str, options: Mapping[str, Any]) -> Dict[str, Any]:
    """Check ``options`` against ``method``'s declaration (imports its localizer module)."""
    from pose_reloc.inference.base import check_options
    localizer_factory(method)
    return check_options(OPTIONS.get(method, ()), options, f'{method.upper()} localizer')


__all__ = ['BundleError', 'check_localizer_options', 'load_localizer', 'localizer_factory',
           'localizer_options', 'register_localizer']
