# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The node (its own process) with real, tiny bundles: SCR inliers and gate, MSPN scenes.

- SCR: a 40-frame synthetic scene at 64x48 and 50 epochs of ``scr-lite-cpu`` (~7 s). The node
  publishes the PnP inliers as a PointCloud2 that must agree with its header and its pose;
  with ``min_confidence`` above 1 it publishes no pose and says why in ``/diagnostics``.
- MSPN: two 24-frame scenes and a tiny MSPN (no dropout, so its 2-sample MC-dropout pose is
  the plain forward pass). With the ``scene`` parameter the node's pose is that scene's head
  on the image, as ``APRLocalizer`` computes it here, for an image of the other scene too.
"""

import subprocess
import sys

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped
import numpy as np
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import Image, PointCloud2, PointField

from pose_reloc.data.formats.posed_folder import read_scene
from pose_reloc.data.records import load_image
from pose_reloc.data.synthetic.generate import generate_scene
from pose_reloc.geometry.se3 import invert
from pose_reloc.ros.conversions import msg_covariance, msg_to_T, rgb_to_image, stamp_to_ns
from pose_reloc.ros.launcher import child_env
from pose_reloc.ros.recorder import Recorder
from pose_reloc.ros.reloc_node import POSE_QOS
from pose_reloc.workflows import train_from_preset

SIZE = (64, 48)
PNP_THRESHOLD_PX = 4.0
# a fixed number of epochs (about 7 s here; the time cap only guards a loaded machine), so
# that the model does not depend on the machine's load
SCR_OVERRIDES = ['optim.epochs=50', 'optim.max_minutes=1', 'data.resize=48', 'data.height=48',
                 'data.width=64', 'data.val_frames=4', 'run.device=cpu', 'run.progress=false',
                 f'model.pnp_threshold_px={PNP_THRESHOLD_PX}']
MSPN_OVERRIDES = ['model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=32',
                  'model.dropout=0.0', 'model.mc_samples=2', 'model.freeze_encoder=0',
                  'data.height=48', 'data.width=64', 'data.resize=0', 'data.val_frames=4',
                  'optim.epochs=3', 'optim.max_minutes=0.1', 'run.device=cpu',
                  'run.progress=false']


@pytest.fixture(scope='module')
def scr_world(tmp_path_factory):
    """Return a tiny synthetic scene and an SCR bundle trained on it (50 epochs, ~7 s)."""
    tmp = tmp_path_factory.mktemp('scr_node')
    scene = generate_scene(tmp / 'data' / 'tiny_0', 'tiny', seed=0, frames=40, size=SIZE)
    bundle = train_from_preset('scr', 'scr-lite-cpu', tmp / 'data', tmp / 'bundle', SCR_OVERRIDES)
    return {'tmp': tmp, 'frames': read_scene(scene).frames, 'bundle': bundle}


@pytest.fixture(scope='module')
def mspn_world(tmp_path_factory):
    """Return two tiny synthetic scenes and an MSPN bundle trained on both (a few seconds)."""
    tmp = tmp_path_factory.mktemp('mspn_node')
    scenes = [generate_scene(tmp / 'data' / f'tiny_{i}', 'tiny', seed=0, index=i, frames=24,
                             size=SIZE) for i in range(2)]
    bundle = train_from_preset('mspn', 'mspn-cpu', tmp / 'data', tmp / 'bundle',
                               MSPN_OVERRIDES)
    return {'tmp': tmp, 'frames': [read_scene(s).frames for s in scenes], 'bundle': bundle}


class NodeProcess:
    """``reloc_node`` on a bundle in its own process, and an observer ``Recorder``."""

    def __init__(self, tmp, bundle, name: str, *params: str):
        self.name = name
        self.log = tmp / f'{name}.log'
        args = [sys.executable, '-m', 'pose_reloc.ros.reloc_node', '--ros-args',
                '-r', f'__node:={name}', '-r', f'image:=/{name}_cam/image',
                '-p', f'bundle:={bundle}', '-p', 'device:=cpu', '-p', 'log_throttle_s:=0.0',
                '-p', 'diagnostics_period:=0.2']
        for param in params:
            args += ['-p', param]
        with open(self.log, 'wb') as out:
            self.proc = subprocess.Popen(args, env=child_env(), stdout=out,
                                         stderr=subprocess.STDOUT)
        self.pose_topic = f'/{name}/pose'
        self.rec = Recorder({self.pose_topic: (PoseWithCovarianceStamped, POSE_QOS),
                             f'/{name}/inliers': (PointCloud2, 10),
                             '/diagnostics': (DiagnosticArray, 10)},
                            node_name=f'{name}_observer')
        self.images = self.rec.publisher(Image, f'/{name}_cam/image', 10)

    def start(self, image_rgb, timeout_s: float = 60.0) -> None:
        """Wait for the node, then repeat a first frame until its pose comes back."""
        rec = self.rec
        assert rec.spin_until(lambda: self.images.get_subscription_count() > 0, timeout_s), \
            f'node did not come up:\n{self.log.read_text()}'
        for i in range(40):  # a best-effort reader drops samples until it matched the writer
            self.images.publish(rgb_to_image(image_rgb, 1_000 + i, 'cam_optical'))
            if rec.spin_until(lambda: rec.count(self.pose_topic) > 0, 1.0):
                return
        raise AssertionError(f'no pose from the node:\n{self.log.read_text()}')

    def pose_at(self, stamp_ns: int, timeout_s: float = 20.0):
        """Return the node's pose stamped ``stamp_ns`` (waiting for it)."""
        def find():
            return [m for _, m in self.rec.messages[self.pose_topic]
                    if stamp_to_ns(m.header.stamp) == stamp_ns]
        assert self.rec.spin_until(lambda: bool(find()), timeout_s), self.log.read_text()
        return find()[0]

    def diagnostics(self) -> dict:
        """Return the key/values of this node's newest diagnostics status."""
        for _, msg in reversed(self.rec.messages['/diagnostics']):
            for status in msg.status:
                if status.name.startswith(f'{self.name}:'):
                    return {kv.key: kv.value for kv in status.values}
        return {}

    def set_parameter(self, name: str, ptype: int, **value):
        """Set one parameter through the node's service; return the SetParametersResult."""
        client = self.rec.node.create_client(SetParameters, f'/{self.name}/set_parameters')
        assert self.rec.spin_until(client.service_is_ready, 10)
        future = client.call_async(SetParameters.Request(parameters=[Parameter(
            name=name, value=ParameterValue(type=ptype, **value))]))
        assert self.rec.spin_until(future.done, 10)
        return future.result().results[0]

    def close(self) -> None:
        """Close the observer and stop the node."""
        self.rec.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def cloud_points(cloud) -> np.ndarray:
    """Decode an ``x, y, z`` float32 PointCloud2 to ``(N, 3)``, checking its layout."""
    fields = {f.name: f for f in cloud.fields}
    assert set('xyz') <= set(fields) and not cloud.is_bigendian
    assert all(fields[n].datatype == PointField.FLOAT32 and fields[n].count == 1 for n in 'xyz')
    count = cloud.height * cloud.width
    assert cloud.point_step >= 12 and cloud.row_step == cloud.point_step * cloud.width
    assert len(cloud.data) == cloud.row_step * cloud.height
    raw = np.frombuffer(bytes(cloud.data), np.uint8).reshape(count, cloud.point_step)
    return np.stack([raw[:, fields[n].offset:fields[n].offset + 4].copy().view('<f4')[:, 0]
                     for n in 'xyz'], axis=1).astype(np.float64)


def test_scr_inliers_cloud_and_the_confidence_gate(scr_world):
    from pose_reloc.inference import load_localizer
    localizer = load_localizer(scr_world['bundle'], device='cpu')
    train = [f for f in scr_world['frames'] if f.split == 'train'][:12]
    # the training view the tiny model localizes best here (PnP is randomized)
    frame = max(train, key=lambda f: localizer.localize(load_image(f)).confidence)
    image, camera = load_image(frame), frame.camera
    node = NodeProcess(scr_world['tmp'], scr_world['bundle'], 'scr_node',
                       'publish_inliers:=true')
    try:
        node.start(image)
        stamp = 1_700_000_002_000_000_001
        node.images.publish(rgb_to_image(image, stamp, 'cam_optical'))
        pose = node.pose_at(stamp)
        inliers = f'/{node.name}/inliers'
        assert node.rec.spin_until(lambda: any(
            stamp_to_ns(m.header.stamp) == stamp for _, m in node.rec.messages[inliers]), 10)
        cloud = [m for _, m in node.rec.messages[inliers]
                 if stamp_to_ns(m.header.stamp) == stamp][0]
        assert cloud.header.frame_id == pose.header.frame_id == 'map'
        points_map = cloud_points(cloud)
        assert len(points_map) >= 12 and np.all(np.isfinite(points_map))
        assert cloud.is_dense
        # inliers of the published pose: in front of the camera and within the PnP threshold
        # of the image (the points are pixel-cell centres that reprojected within it)
        T_cam_map = invert(msg_to_T(pose))
        points_cam = points_map @ T_cam_map[:3, :3].T + T_cam_map[:3, 3]
        assert np.all(points_cam[:, 2] > 0)
        u = camera.fx * points_cam[:, 0] / points_cam[:, 2] + camera.cx
        v = camera.fy * points_cam[:, 1] / points_cam[:, 2] + camera.cy
        margin = 2 * PNP_THRESHOLD_PX
        assert np.all((u > -margin) & (u < camera.width + margin))
        assert np.all((v > -margin) & (v < camera.height + margin))
        assert np.all(np.linalg.eigvalsh(msg_covariance(pose)) > 0)

        # above 1 no confidence passes: no pose, the reason in /diagnostics
        result = node.set_parameter('min_confidence', ParameterType.PARAMETER_DOUBLE,
                                    double_value=1.01)
        assert result.successful, result.reason
        gated = stamp + 1_000_000_000
        processed = int(node.diagnostics().get('frames_processed', '0'))
        node.images.publish(rgb_to_image(image, gated, 'cam_optical'))
        assert node.rec.spin_until(
            lambda: int(node.diagnostics().get('frames_processed', '0')) > processed
            and f'{gated / 1e9:.3f}' in node.diagnostics().get('last_failure', ''), 20), \
            node.log.read_text()
        failure = node.diagnostics()['last_failure']
        assert 'below min_confidence 1.010' in failure, failure
        assert gated not in [stamp_to_ns(m.header.stamp)
                             for _, m in node.rec.messages[node.pose_topic]]
        assert 'below min_confidence 1.010' in node.log.read_text()
    finally:
        node.close()


def test_mspn_scene_parameter_selects_that_scenes_head(mspn_world):
    from pose_reloc.inference.apr import APRLocalizer
    localizer = APRLocalizer(mspn_world['bundle'], device='cpu')
    scenes = localizer.scenes
    assert len(scenes) == 2
    # an image of the second scene, localized with the first scene's head
    image = load_image(mspn_world['frames'][1][5])
    heads = [localizer.localize(image, scene=s).T_world_cam for s in scenes]
    assert np.linalg.norm(heads[0][:3, 3] - heads[1][:3, 3]) > 1.0
    node = NodeProcess(mspn_world['tmp'], mspn_world['bundle'], 'mspn_node',
                       f'scene:={scenes[0]}')
    try:
        node.start(load_image(mspn_world['frames'][0][0]))
        stamp = 1_700_000_003_000_000_000
        node.images.publish(rgb_to_image(image, stamp, 'cam_optical'))
        np.testing.assert_allclose(msg_to_T(node.pose_at(stamp)), heads[0], atol=1e-4)
        assert node.rec.spin_until(lambda: node.diagnostics().get('scene') == scenes[0], 5)

        result = node.set_parameter('scene', ParameterType.PARAMETER_STRING,
                                    string_value=scenes[1])
        assert result.successful, result.reason
        node.images.publish(rgb_to_image(image, stamp + 1, 'cam_optical'))
        np.testing.assert_allclose(msg_to_T(node.pose_at(stamp + 1)), heads[1], atol=1e-4)
        assert node.rec.spin_until(lambda: node.diagnostics().get('scene') == scenes[1], 5)
    finally:
        node.close()
