# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Bag reading and extraction on the shared real bags (mcap + sqlite3, TF chain, amcl_pose)."""

import json
from pathlib import Path

import numpy as np
import pytest

from pose_reloc.data.tum import read_tum_ns
from pose_reloc.geometry.se3 import interpolate_at
from pose_reloc.ros.bag_io import bag_info, BagReader
from pose_reloc.ros.conversions import msg_to_T, stamp_to_ns
from pose_reloc.ros.extract import extract_bag

BAGS = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data' / 'ros2_bags'
NAV2 = BAGS / 'nav2_turtlebot.mcap'
TF_EXAMPLE = BAGS / 'tf_example'

pytestmark = pytest.mark.skipif(not NAV2.exists() or not TF_EXAMPLE.exists(),
                                reason='shared real bags not found in ../shared/data')


def test_bag_info_both_storages():
    mcap = bag_info(NAV2)
    assert mcap['storage'] == 'mcap'
    counts = {t['name']: t['count'] for t in mcap['topics']}
    assert counts['/amcl_pose'] == 135 and counts['/tf_static'] == 1
    db3 = bag_info(TF_EXAMPLE / 'tf_example.db3')
    assert db3['storage'] == 'sqlite3' and db3['messages'] == 518
    assert db3['duration_s'] == pytest.approx(51.68, abs=0.01)


def test_tf_chain_extraction_agrees_with_amcl_pose(tmp_path):
    """The TF chain map -> odom -> base_link matches AMCL's own pose estimates."""
    tf_report = extract_bag(NAV2, tmp_path / 'tf', None, tf_parent='map',
                            tf_child='base_link', progress=False)
    amcl_report = extract_bag(NAV2, tmp_path / 'amcl', None, pose_topic='/amcl_pose',
                              progress=False)
    assert tf_report['mode'] == amcl_report['mode'] == 'poses'
    assert amcl_report['frames_written'] == 135
    t_tf, poses_tf = read_tum_ns(tmp_path / 'tf' / 'poses.txt')
    t_amcl, poses_amcl = read_tum_ns(tmp_path / 'amcl' / 'poses.txt')
    assert len(t_tf) == tf_report['frames_written'] > 3000
    # the amcl file holds exactly the messages
    with BagReader(NAV2) as bag:
        first = next(bag.messages(['/amcl_pose'])).msg
    assert t_amcl[0] == stamp_to_ns(first.header.stamp)
    np.testing.assert_allclose(poses_amcl[0], msg_to_T(first), atol=1e-8)
    at_amcl, valid = interpolate_at(t_tf, poses_tf, t_amcl)
    assert valid.sum() >= 130
    gap_m = np.linalg.norm(at_amcl[valid][:, :3, 3] - poses_amcl[valid][:, :3, 3], axis=1)
    assert np.median(gap_m) < 0.1
    assert json.loads((tmp_path / 'tf' / 'extract_report.json').read_text())['gt_body'] == \
        'base_link'


def test_sqlite_bag_static_and_dynamic_chain(tmp_path):
    """The chain odom -> base_link = dynamic odom->base_footprint composed with a static link."""
    report = extract_bag(TF_EXAMPLE / 'tf_example.db3', tmp_path / 'odom', None,
                         tf_parent='odom', tf_child='base_link', every=2, start=10.0,
                         end=40.0, progress=False)
    t_ns, poses = read_tum_ns(tmp_path / 'odom' / 'poses.txt')
    assert report['frames_written'] == len(t_ns) and 140 < len(t_ns) < 160
    assert report['dropped_outside_window'] > 200
    with BagReader(TF_EXAMPLE) as bag:
        static = next(bag.messages(['/tf_static'])).msg.transforms[0]
        dynamic = {stamp_to_ns(tr.header.stamp): msg_to_T(tr)
                   for m in bag.messages(['/tf']) for tr in m.msg.transforms}
    T_footprint_base = msg_to_T(static)
    np.testing.assert_allclose(poses[0], dynamic[int(t_ns[0])] @ T_footprint_base, atol=1e-8)


def test_extraction_errors_name_the_cause(tmp_path):
    with pytest.raises(ValueError, match='not in bag .* it has: /odom'):
        extract_bag(NAV2, tmp_path / 'a', '/camera/image_raw', tf_parent='map',
                    progress=False)
    with pytest.raises(ValueError, match='exactly one ground-truth source'):
        extract_bag(NAV2, tmp_path / 'b', None, pose_topic='/amcl_pose', tf_parent='map')
    with pytest.raises(ValueError, match='expected one of'):
        extract_bag(NAV2, tmp_path / 'c', None, pose_topic='/tf', progress=False)
    with pytest.raises(FileNotFoundError):
        extract_bag(BAGS / 'missing.mcap', tmp_path / 'd', None, pose_topic='/amcl_pose')
    (tmp_path / 'e').mkdir()
    with pytest.raises(FileExistsError):
        extract_bag(NAV2, tmp_path / 'e', None, pose_topic='/amcl_pose', progress=False)
