# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The node forwards localizer options without naming a method; refinement in the node.

In process (real rclpy, no other process): an APR bundle with a discriminator component
(random tiny networks), the node configured from its ``bundle`` parameter.
"""

import time

import numpy as np
import pytest
import torch

from pose_reloc.core.bundle import save_bundle
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.pose_discriminator import PoseDiscriminator
from pose_reloc.ros.conversions import rgb_to_image

torch.set_num_threads(1)
H, W = 32, 40


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    torch.manual_seed(0)
    model = PoseRegressor('tiny', None, fc_dim=16, dropout=0.3, rotation='quat').eval()
    disc = PoseDiscriminator('quat', length=16, channels=8, backbone='tiny').eval()
    meta = {'scenes': [{'name': 's', 'translation_mean': [0, 0, 0], 'translation_scale': 1.0,
                        'coord_mean': None, 'camera': None}],
            'input': {'height': H, 'width': W, 'resize': 0, 'mean': [0.5] * 3,
                      'std': [0.25] * 3},
            'uncertainty': {'mc_samples': 4, 'mc_dropout': 0.3},
            'refinement': {'iterations': 0, 'step': 1e-3}}
    return save_bundle(tmp_path_factory.mktemp('b') / 'b', 'apr', model.architecture,
                       model.state_dict(), meta,
                       components={'discriminator': (disc.architecture, disc.state_dict())})


def _node(context, bundle, **params):
    from rclpy.parameter import Parameter
    from pose_reloc.ros.reloc_node import RelocNode
    overrides = [Parameter('bundle', value=str(bundle)), Parameter('device', value='cpu'),
                 Parameter('tf_mode', value='none'), Parameter('log_throttle_s', value=0.0)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return RelocNode(context=context, parameter_overrides=overrides)


def _image(stamp_ns):
    rgb = np.random.default_rng(stamp_ns).integers(0, 255, (H, W, 3), dtype=np.uint8)
    return rgb_to_image(rgb, stamp_ns, 'cam_optical')


def test_node_refines_and_reports_refinement_time(context, bundle):
    node = _node(context, bundle, refine_iterations=30, refine_step=0.5)
    published = []
    node._diag_pub.publish = published.append
    try:
        assert node.localizer.refiner is not None
        assert node.localizer.refiner.cfg.iterations == 30
        assert node.localizer.refiner.cfg.step == 0.5
        for stamp in range(1, 6):
            node._process(_image(stamp), time.monotonic())
        stats = node.stats
        assert stats['published'] == 5 and stats['failures'] == 0
        node._publish_diagnostics()
        values = {kv.key: kv.value for kv in published[-1].status[0].values}
        assert float(values['refine_ms']) > 0 and float(values['network_ms']) > 0
        assert 0 <= int(values['refinements_rejected']) <= 5
        # the latency budget: far below a second per frame with refinement on
        assert float(values['latency_ms']) < 1000.0
    finally:
        node.destroy_node()


def test_node_without_refinement_has_no_refine_stage(context, bundle):
    node = _node(context, bundle)  # refine_iterations -1: the bundle's default (0)
    try:
        assert node.localizer.refiner is None
    finally:
        node.destroy_node()


def test_node_forwards_free_options_and_the_localizer_refuses_unknown_ones(context, bundle):
    node = _node(context, bundle, localizer_options=['covariance_scale=2.0', 'seed=3'])
    try:
        assert node.localizer.covariance_scale == 2.0
    finally:
        node.destroy_node()
    with pytest.raises(ValueError, match=r'unknown APR localizer option\(s\) min_inliers; '
                       'the APR localizer accepts: covariance_scale'):
        _node(context, bundle, localizer_options=['min_inliers=30'])
    # a name load_localizer takes itself is refused too, not a TypeError from the call
    with pytest.raises(ValueError, match=r'unknown APR localizer option\(s\) device'):
        _node(context, bundle, localizer_options=['device=cpu'])
    with pytest.raises(ValueError, match='both as a parameter and in localizer_options'):
        _node(context, bundle, mc_samples=4, localizer_options=['mc_samples=4'])
