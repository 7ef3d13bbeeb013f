# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Roles of training data: which roots are source scenes, which the target, and so on.

Most methods read one dataset root. Cross-domain methods read several, each in a *role*:
APANet's labeled ``source`` scenes and its ``target`` scene, CUT's ``source`` renders and
``target`` photos. On the command line a role is written ``ROLE=ROOT`` and may repeat::

    pose-reloc train --method apanet --data source=a --data source=b --data target=c ...

A bare ``--data ROOT`` is the role :data:`DEFAULT_ROLE` (``train``), what single-domain
methods read. A method says which roles it accepts when it registers its trainer
(:func:`pose_reloc.training.registry.register_trainer`); :func:`check_roles` refuses others.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple, Union

#: the role of a bare ``--data ROOT``.
DEFAULT_ROLE = 'train'


@dataclass(frozen=True)
class DataRoles:
    """Dataset roots by role, in command-line order.

    Attributes:
        entries: ``((role, root), ...)``; a role may appear several times.
    """

    entries: Tuple[Tuple[str, Path], ...]

    @classmethod
    def single(cls, root: Union[str, Path]) -> 'DataRoles':
        """Return the roles of one bare root (role :data:`DEFAULT_ROLE`)."""
        return cls(((DEFAULT_ROLE, Path(root)),))

    def roles(self) -> List[str]:
        """Return the roles present, in first-appearance order."""
        seen: List[str] = []
        for role, _ in self.entries:
            if role not in seen:
                seen.append(role)
        return seen

    def get(self, role: str) -> Tuple[Path, ...]:
        """Return the roots given for ``role`` (empty when none)."""
        return tuple(root for r, root in self.entries if r == role)

    def one(self, role: str) -> Path:
        """Return the single root of ``role``.

        Raises:
            ValueError: naming the role when it was given zero or several times.
        """
        roots = self.get(role)
        if len(roots) != 1:
            raise ValueError(f'expected exactly one --data {role}=ROOT, got {len(roots)}'
                             + (f': {[str(r) for r in roots]}' if roots else ''))
        return roots[0]

    def as_dict(self) -> Dict[str, List[str]]:
        """Return ``{role: [root, ...]}`` (JSON-ready, for bundles and logs)."""
        return {role: [str(r) for r in self.get(role)] for role in self.roles()}

    def __str__(self) -> str:
        """Return the command-line spelling (``source=a target=b``)."""
        return ' '.join(f'{role}={root}' for role, root in self.entries)


def parse_data_args(values: Iterable[Union[str, Path]]) -> DataRoles:
    """Parse ``--data`` values: ``ROOT`` or ``ROLE=ROOT``.

    A value whose text before the first ``=`` is a plain name (letters, digits, ``_``,
    ``-``) and not an existing path is a role; anything else is a bare root.

    Raises:
        ValueError: for an empty value or an empty root.
    """
    entries = []
    for value in values:
        text = str(value)
        if not text:
            raise ValueError('--data needs a dataset root or ROLE=ROOT, got an empty value')
        role, sep, root = text.partition('=')
        if sep and role.replace('_', '').replace('-', '').isalnum() and not Path(text).exists():
            if not root:
                raise ValueError(f'--data {text}: the root after "{role}=" is empty')
            entries.append((role, Path(root)))
        else:
            entries.append((DEFAULT_ROLE, Path(text)))
    return DataRoles(tuple(entries))


def check_roles(method: str, data: DataRoles, accepted: Sequence[str]) -> None:
    """Refuse roles that ``method`` does not read, and an empty ``data``.

    Raises:
        ValueError: naming the method, the unexpected roles and the accepted ones.
    """
    if not data.entries:
        raise ValueError(f'{method} needs --data')
    unexpected = [r for r in data.roles() if r not in accepted]
    if unexpected:
        spelled = ' '.join(f'--data {r}=ROOT' if r != DEFAULT_ROLE else '--data ROOT'
                           for r in accepted)
        raise ValueError(f'{method} does not read data of role(s) {unexpected}; it reads '
                         f'{list(accepted)} ({spelled})')
