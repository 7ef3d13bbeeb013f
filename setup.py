# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Build script of the pose_reloc ament_python package (also a plain pip package)."""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

PACKAGE = 'pose_reloc'
HERE = os.path.dirname(os.path.abspath(__file__))


def _files(pattern):
    """Return the files matching ``pattern`` relative to this directory, sorted."""
    return sorted(
        os.path.relpath(path, HERE)
        for path in glob(os.path.join(HERE, pattern)) if os.path.isfile(path))


def _version():
    """Read ``__version__`` from the package without importing it."""
    with open(os.path.join(HERE, PACKAGE, '__init__.py'), encoding='utf-8') as stream:
        for line in stream:
            if line.startswith('__version__'):
                return line.split('=', 1)[1].strip().strip('\'"')
    raise RuntimeError(f'no __version__ in {PACKAGE}/__init__.py')


setup(
    name=PACKAGE,
    version=_version(),
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', _files('launch/*.py')),
        ('share/' + PACKAGE + '/config',
         _files('config/*.yaml') + _files('config/*.rviz') + _files('config/*.xml')),
        ('share/' + PACKAGE + '/config/train', _files('config/train/*.yaml')),
        ('share/' + PACKAGE + '/config/synth', _files('config/synth/*.yaml')),
        ('share/' + PACKAGE + '/config/dance', _files('config/dance/*.yaml')),
    ],
    python_requires='>=3.10',
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='pose_reloc authors',
    maintainer_email='pose_reloc@example.com',
    description='Camera relocalization in a known map from single images, with a ROS 2 node.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'pose-reloc = pose_reloc.cli:main',
            'reloc_node = pose_reloc.ros.reloc_node:main',
            'reloc_launch = pose_reloc.ros.launcher:main',
        ],
    },
)
