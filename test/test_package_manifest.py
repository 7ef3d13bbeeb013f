# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""package.xml and the package agree: name, version, build type, dependencies.

test_colcon_build.py checks what setup.py and setup.cfg install.
"""

from pathlib import Path
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
