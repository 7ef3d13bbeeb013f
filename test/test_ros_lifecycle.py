# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The managed (lifecycle) node: driven as nav2's lifecycle manager drives its nodes.

nav2's lifecycle manager calls ``<node>/change_state`` (lifecycle_msgs/srv/ChangeState) with
configure then activate (and deactivate, cleanup, shutdown on the way down) and reads
``<node>/get_state``; the stand-in manager here does the same. Start-up errors print one
line without a traceback.
"""

import signal
import subprocess
import sys

from geometry_msgs.msg import PoseWithCovarianceStamped
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
import numpy as np
import pytest
from ros_stand_in import start_stand_in, stop
from sensor_msgs.msg import Image

from pose_reloc.ros.conversions import rgb_to_image, stamp_to_ns
from pose_reloc.ros.launcher import child_env
from pose_reloc.ros.recorder import Recorder
from pose_reloc.ros.reloc_node import POSE_QOS


class _Manager:
    """A stand-in for nav2's lifecycle manager: ChangeState / GetState clients."""

    def __init__(self, rec, node):
        self.rec = rec
        self.change = rec.node.create_client(ChangeState, f'/{node}/change_state')
        self.get = rec.node.create_client(GetState, f'/{node}/get_state')
        assert rec.spin_until(lambda: self.change.service_is_ready()
                              and self.get.service_is_ready(), 30)

    def _call(self, client, request):
        future = client.call_async(request)
        assert self.rec.spin_until(future.done, 30)
        return future.result()

    def transition(self, transition_id) -> bool:
        return self._call(self.change, ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def state(self) -> int:
        return self._call(self.get, GetState.Request()).current_state.id


def _start(tmp_path, name, *ros_args, double=True):
    log = tmp_path / f'{name}.log'
    proc = start_stand_in(log, ['-r', f'__node:={name}', '-r', f'image:=/{name}/image',
                                '-p', 'autostart:=false', '-p', 'tf_mode:=none', *ros_args],
                          localizer=double, env={'PYTHONFAULTHANDLER': '1'})
    return proc, log


def _image(value, stamp_ns):
    return rgb_to_image(np.full((16, 16, 3), value, np.uint8), stamp_ns, 'cam')


def test_a_lifecycle_manager_brings_the_node_up_and_down(tmp_path):
    proc, log = _start(tmp_path, 'lc_node')
    rec = Recorder({'/lc_node/pose': (PoseWithCovarianceStamped, POSE_QOS)},
                   node_name='lifecycle_manager_stand_in')
    try:
        manager = _Manager(rec, 'lc_node')
        images = rec.publisher(Image, '/lc_node/image', 10)
        assert manager.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert manager.transition(Transition.TRANSITION_CONFIGURE), log.read_text()
        assert manager.state() == State.PRIMARY_STATE_INACTIVE
        # inactive: publishers exist, nothing listens to the camera
        assert rec.spin_until(lambda: rec.node.count_publishers('/lc_node/pose') == 1, 10)
        assert images.get_subscription_count() == 0

        def poses_after(stamp):
            for _ in range(60):
                images.publish(_image(42, stamp))
                if rec.spin_until(lambda: any(stamp_to_ns(m.header.stamp) == stamp
                                              for _, m in rec.messages['/lc_node/pose']), 0.3):
                    return True
            return False

        assert manager.transition(Transition.TRANSITION_ACTIVATE)
        assert manager.state() == State.PRIMARY_STATE_ACTIVE
        assert poses_after(1_000), log.read_text()
        assert manager.transition(Transition.TRANSITION_DEACTIVATE)
        assert manager.state() == State.PRIMARY_STATE_INACTIVE
        assert rec.spin_until(lambda: images.get_subscription_count() == 0, 10)
        count = rec.count('/lc_node/pose')
        images.publish(_image(42, 2_000))
        rec.spin_until(lambda: False, 0.5)
        assert rec.count('/lc_node/pose') == count
        assert manager.transition(Transition.TRANSITION_ACTIVATE)  # the model was kept
        assert poses_after(3_000)
        assert manager.transition(Transition.TRANSITION_DEACTIVATE)
        assert manager.transition(Transition.TRANSITION_CLEANUP)
        assert manager.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert rec.spin_until(lambda: rec.node.count_publishers('/lc_node/pose') == 0, 10)
        assert manager.transition(Transition.TRANSITION_CONFIGURE)
        assert manager.transition(Transition.TRANSITION_ACTIVATE)
        assert poses_after(4_000)
        assert manager.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN)
        assert manager.state() == State.PRIMARY_STATE_FINALIZED
        text = log.read_text()
        assert 'Traceback' not in text and 'deactivated' in text and 'cleaned up' in text
    finally:
        rec.close()
        stop(proc)


def test_a_failed_configure_leaves_the_node_unconfigured_and_serving(tmp_path):
    proc, log = _start(tmp_path, 'lc_bad', '-p', f'bundle:={tmp_path / "missing"}',
                       double=False)
    rec = Recorder({}, node_name='lifecycle_manager_stand_in_2')
    try:
        manager = _Manager(rec, 'lc_bad')
        assert not manager.transition(Transition.TRANSITION_CONFIGURE)
        assert manager.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert proc.poll() is None
        text = log.read_text()
        assert 'configure failed' in text and 'does not exist' in text
        assert 'Traceback' not in text
    finally:
        rec.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # show where it hangs (faulthandler) and fail
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=10)
            raise AssertionError(f'the node did not stop on SIGTERM:\n{log.read_text()}')


@pytest.mark.parametrize('args, message', [
    (['-p', 'bundle:=/nonexistent/bundle'], 'does not exist'),
    (['-p', "bundle:=''"], 'parameter bundle is empty'),
    (['-p', 'bundle:='], "Couldn't parse parameter override rule"),
    (['-p', 'tf_mode:=map_to_moon'], 'tf_mode must be one of'),
    (['-p', 'path_length:=many'], 'path_length'),
    (['-p', 'relocalize_frames:=0'], 'relocalize_frames must be an integer >= 1'),
], ids=['missing-bundle', 'empty-bundle', 'unparsable', 'bad-value', 'bad-type', 'bad-handoff'])
def test_startup_errors_print_one_line_without_a_traceback(tmp_path, args, message):
    bundle = [] if any(a.startswith('bundle:=') for a in args) else [
        '-p', f'bundle:={tmp_path}']
    proc = subprocess.run(
        [sys.executable, '-m', 'pose_reloc.ros.reloc_node', '--ros-args', *bundle, *args],
        env=child_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert 'Traceback' not in proc.stderr + proc.stdout, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith('reloc_node: error')]
    assert len(errors) == 1 and message in errors[0], proc.stderr
