# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The README's demo in its CI variant: ``pose-reloc demo --quick``, end to end."""

import json

import pytest

from pose_reloc.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.ros]


def test_quick_demo_runs_the_chain_and_beats_the_baseline(tmp_path, shared_data, capsys):
    out = tmp_path / 'demo'
    code = main(['demo', '--quick', '--json', '--data-dir', str(shared_data),
                 '--out', str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    decoder, objects, pos = json.JSONDecoder(), [], printed.index('{')
    while pos < len(printed):
        obj, pos = decoder.raw_decode(printed, pos)
        objects.append(obj)
        pos = printed.find('{', pos) if '{' in printed[pos:] else len(printed)
    selfcheck, demo = objects  # the dataset self-check, then the ROS demo
    assert selfcheck['ok']
    held_out, baseline = demo['held_out'], demo['baseline']
    nearest = demo['nearest_mapped_pose']
    assert demo['frames_published'] == 80
    # measured: 0.6 cm / 0.11 deg, every frame localized; nearest mapped pose 24 cm
    assert held_out['frames'] == 40 and held_out['failures'] <= 8
    assert held_out['median_translation_m'] < 0.05
    assert held_out['median_translation_m'] < 0.5 * nearest['median_translation_m']
    assert held_out['median_rotation_deg'] < baseline['median_rotation_deg']
    assert demo['latency_ms']['median'] > 0
    assert (out / 'live' / 'trajectory.png').stat().st_size > 0
