# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The package's imports flow one way (docs/ARCHITECTURE.md, "Layers").

Every module is parsed with ``ast`` (function-local and ``TYPE_CHECKING`` imports included,
since they run too) and each ``pose_reloc`` import is checked against the layer table: a
module may import its own package and the packages of lower layers only. Training and
inference share a layer and may not import each other. The packages must also form no cycle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / 'pose_reloc'

#: package (first component under pose_reloc) -> layer; an import must go to a lower layer.
LAYERS = {
    '__init__': -1,  # pose_reloc/__init__.py: the version only
    'core': 0,
    'geometry': 1,
    'data': 2,
    'models': 3,
    'training': 4,
    'inference': 4,
    'workflows': 5,
    'dance': 5.5,  # the DANCE chain: chains workflows.train_bundle, below ros
    'ros': 6,
    'commands': 7,
    'cli': 7,
}


def _package_of_path(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _package_of_module(name: str) -> str:
    parts = name.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def _module_name(path: Path) -> str:
    parts = list(path.with_suffix('').parts)
    parts = parts[len(parts) - 1 - parts[::-1].index('pose_reloc'):]
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def package_imports(path: Path):
    """Yield ``(line, imported pose_reloc module)`` of every import in ``path``."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    here = _module_name(path).split('.')
    is_package = path.name == '__init__.py'
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split('.')[0] == 'pose_reloc':
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            if module.split('.')[0] != 'pose_reloc':
                continue
            if module == 'pose_reloc':
                # ``from pose_reloc import x``: x is a subpackage or a name of __init__
                for alias in node.names:
                    sub = alias.name if (ROOT / alias.name).exists() or \
                        (ROOT / f'{alias.name}.py').exists() else None
                    yield node.lineno, f'pose_reloc.{sub}' if sub else 'pose_reloc'
            else:
                yield node.lineno, module


def _all_modules():
    return sorted(ROOT.rglob('*.py'))


def _edges():
    """Yield ``(importer package, imported package, 'file:line imports module')``."""
    for path in _all_modules():
        src = _package_of_path(path)
        for line, module in package_imports(path):
            dst = _package_of_module(module)
            yield src, dst, f'{path.relative_to(ROOT.parent)}:{line} imports {module}'


def test_every_package_has_a_layer():
    packages = {_package_of_path(p) for p in _all_modules()}
    assert packages <= set(LAYERS), f'give these packages a layer: {packages - set(LAYERS)}'


def test_imports_flow_one_way():
    bad = []
    for src, dst, where in _edges():
        if src == dst:
            continue
        if dst not in LAYERS:
            bad.append(f'{where}: unknown package {dst!r}')
        elif LAYERS[dst] >= LAYERS[src]:
            kind = 'sideways' if LAYERS[dst] == LAYERS[src] else 'upward'
            bad.append(f'{where}: {kind} import ({src} layer {LAYERS[src]} -> {dst} layer '
                       f'{LAYERS[dst]})')
    assert not bad, 'imports against the layers:\n' + '\n'.join(bad)


def test_no_cycle_between_packages():
    graph = {}
    for src, dst, where in _edges():
        if src != dst:
            graph.setdefault(src, {}).setdefault(dst, where)
    cycle = _find_cycle(graph)
    assert cycle is None, 'import cycle between packages:\n' + '\n'.join(
        graph[a][b] for a, b in zip(cycle, cycle[1:]))


def _find_cycle(graph):
    state = {}
    stack = []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for nxt in graph.get(node, {}):
            if state.get(nxt) == 'open':
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 'done'
        return None

    for node in list(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_sees_function_local_and_relative_imports(tmp_path, monkeypatch):
    pkg = tmp_path / 'pose_reloc'
    (pkg / 'inference').mkdir(parents=True)
    (pkg / 'training').mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'training' / '__init__.py').write_text('')
    (pkg / 'inference' / '__init__.py').write_text('')
    (pkg / 'inference' / 'apr.py').write_text(
        'import numpy\n\n\ndef f():\n    from ..training import loop\n'
        '    import pose_reloc.training.loop\n    return loop\n')
    found = list(package_imports(pkg / 'inference' / 'apr.py'))
    assert found == [(5, 'pose_reloc.training'), (6, 'pose_reloc.training.loop')]
    monkeypatch.setattr(f'{__name__}.ROOT', pkg)
    with pytest.raises(AssertionError, match=r'inference/apr.py:5 imports pose_reloc.training'):
        test_imports_flow_one_way()
    (pkg / 'training' / 'loop.py').write_text('from pose_reloc.inference import apr\n')
    with pytest.raises(AssertionError, match='cycle'):
        test_no_cycle_between_packages()
