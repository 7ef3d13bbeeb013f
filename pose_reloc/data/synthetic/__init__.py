# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scene generator: textured 3-D scenes with exact depth and poses.

The project's test bed: seeded indoor rooms and outdoor courtyards
(:mod:`~pose_reloc.data.synthetic.scene`, :mod:`~pose_reloc.data.synthetic.textures`),
an exact vectorized ray caster (:mod:`~pose_reloc.data.synthetic.raycast`), the photo
domain (:mod:`~pose_reloc.data.synthetic.photo`) and the point-cloud scan domain
(:mod:`~pose_reloc.data.synthetic.scan`), camera paths
(:mod:`~pose_reloc.data.synthetic.paths`) and the dataset / bag exporters
(:mod:`~pose_reloc.data.synthetic.generate`, ``pose_reloc.ros.bag_export``).

Typical use::

    from pose_reloc.data.synthetic import generate_dataset
    root = generate_dataset('/tmp/synth', preset='room', scenes=3, seed=0, frames=120,
                            size=(320, 240), domain='photo')
"""

from pose_reloc.data.synthetic.generate import generate_dataset, generate_scene, make_camera
from pose_reloc.data.synthetic.generate import scene_of
from pose_reloc.data.synthetic.presets import get_preset, load_preset, override, PRESETS
from pose_reloc.data.synthetic.presets import SynthPreset
from pose_reloc.data.synthetic.raycast import render, RenderOutput
from pose_reloc.data.synthetic.scene import build_scene, SyntheticScene

__all__ = ['build_scene', 'generate_dataset', 'generate_scene', 'get_preset', 'load_preset',
           'make_camera', 'override', 'PRESETS', 'render', 'RenderOutput', 'scene_of',
           'SynthPreset', 'SyntheticScene']
