# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Bags as robots record them (issue 10): other distributions, ROS 1, encodings, formats.

The rosbag2 cases are copies of ``../shared/cases`` in ``test/data/cases`` (small files
rebuilt from public bug reports): a Humble bag (metadata version 5, a ``.db3`` without
message definitions), an ``.mcap`` whose metadata version (10) is newer than rosbags reads,
``CompressedImage`` frames whose ``format`` says ``rgb8`` or ``bgr8`` order, and
``yuv422_yuy2`` images. ROS 1 bags and bags with refused encodings are written here with
rosbags' writers.
"""

import json
from pathlib import Path
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from rosbags.typesys import get_typestore, Stores

from pose_reloc.cli import main as cli_main
from pose_reloc.data.formats.posed_folder import read_scene
from pose_reloc.data.records import load_depth, load_image
from pose_reloc.ros.bag_io import bag_info, BagError, BagReader, default_store
from pose_reloc.ros.extract import extract_bag
from pose_reloc.ros.launcher import child_env

CASES = Path(__file__).resolve().parent / 'data' / 'cases'
T0 = 1_700_000_000_000_000_000


def _extract(bag, out, image_topic='/cam/image', **kw):
    return extract_bag(bag, out, image_topic, camera_info_topic='/cam/info', pose_topic='/gt',
                       progress=False, **kw)


def _cli(capsys, *argv):
    code = cli_main(list(map(str, argv)))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_humble_bag_without_definitions_is_read_with_the_humble_types(tmp_path, capsys):
    bag = CASES / 'humble_bag' / 'humble_db3'
    info = bag_info(bag)
    assert info['metadata_version'] == 5 and info['typestore'] == 'ros2_humble'
    report = _extract(bag, tmp_path / 'out')
    assert report['frames_written'] == 2 and report['bad_images'] == 0
    frames = read_scene(tmp_path / 'out').frames
    assert [f.timestamp_ns for f in frames] == [T0, T0 + 100_000_000]
    assert np.all(load_image(frames[0]) == 90)  # the recorded grey
    code, out, err = _cli(capsys, 'extract', bag, tmp_path / 'cli', '--image-topic',
                          '/cam/image', '--camera-info-topic', '/cam/info', '--pose-topic',
                          '/gt', '--typestore', 'ros2_foxy')
    assert code == 0, err
    assert json.loads(out)['typestore'] == 'ros2_foxy'


def test_typestore_follows_the_metadata():
    assert default_store({'version': 4}) == Stores.ROS2_FOXY
    assert default_store({'version': 5}) == Stores.ROS2_HUMBLE
    assert default_store({'version': 9, 'ros_distro': 'humble'}) == Stores.ROS2_HUMBLE
    assert default_store({'version': 8}) == Stores.ROS2_JAZZY
    assert default_store({'version': 12}) == Stores.LATEST
    assert default_store({}) == Stores.LATEST  # a bare .mcap defines its own types
    with pytest.raises(BagError, match='unknown type store'):
        BagReader(CASES / 'humble_bag' / 'humble_db3', typestore='ros2_rolling_x')


def test_newer_metadata_version_is_read_or_named_in_one_line(tmp_path, capsys):
    bag = CASES / 'humble_bag' / 'metadata_v10_mcap'
    report = _extract(bag, tmp_path / 'out')
    assert report['frames_written'] == 3
    if report['bag_notes']:  # rosbags older than the bag: read through the compat view
        assert 'version 10' in report['bag_notes'][0]
    grey = [int(load_image(f)[0, 0, 0]) for f in read_scene(tmp_path / 'out').frames]
    assert grey == [40, 90, 140]
    broken = tmp_path / 'v11'
    shutil.copytree(bag, broken)
    meta = broken / 'metadata.yaml'
    meta.write_text(meta.read_text().replace('version: 10', 'version: 11'))
    (broken / 'variant_v10.mcap').write_bytes(b'not an mcap file')
    code, out, err = _cli(capsys, 'extract', broken, tmp_path / 'cli', '--image-topic',
                          '/cam/image', '--pose-topic', '/gt')
    assert code == 1 and 'Traceback' not in err
    assert len(err.strip().splitlines()) == 1
    assert 'version 11' in err and 'pip install -U rosbags' in err


def test_replay_of_a_humble_bag_publishes_every_message(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'pose_reloc.cli', 'replay',
         str(CASES / 'humble_bag' / 'humble_db3'), '--rate', '20', '--no-progress'],
        env=child_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report['published'] == {'/gt': 4, '/cam/image': 2, '/cam/info': 2}


def test_compressed_frames_follow_their_format_channel_order(tmp_path):
    bag = CASES / 'compressed_rgb_order'
    with BagReader(bag) as reader:
        formats = [m.msg.format for m in reader.messages(['/cam/image/compressed'])]
    assert any('compressed rgb8' in f for f in formats)
    assert any('compressed bgr8' in f for f in formats)
    report = _extract(bag, tmp_path / 'out', image_topic='/cam/image/compressed')
    assert report['frames_written'] == 4
    for frame in read_scene(tmp_path / 'out').frames:
        image = load_image(frame).astype(int)
        assert np.abs(image[4, 3] - (255, 0, 0)).max() < 12  # red on the left
        assert np.abs(image[4, 12] - (0, 0, 255)).max() < 12  # blue on the right


def test_yuv422_images_are_converted(tmp_path):
    report = _extract(CASES / 'yuv422_images', tmp_path / 'out')
    assert report['frames_written'] == 3 and report['bad_images'] == 0
    for frame in read_scene(tmp_path / 'out').frames:
        # Y = U = V = 128 is a mid grey: (128 - 16) * 255 / 219 = 130 in BT.601 video range
        assert np.all(np.abs(load_image(frame).astype(int) - 130) <= 1)


class _BagBuilder:
    """Writes small bags (ROS 1 or rosbag2) with images, camera_info and PoseStamped."""

    def __init__(self, ros1: bool):
        self.ros1 = ros1
        self.ts = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.LATEST)
        self.t = self.ts.types

    def header(self, stamp_ns, frame='cam'):
        time = self.t['builtin_interfaces/msg/Time'](sec=stamp_ns // 10**9,
                                                     nanosec=stamp_ns % 10**9)
        if self.ros1:
            return self.t['std_msgs/msg/Header'](seq=0, stamp=time, frame_id=frame)
        return self.t['std_msgs/msg/Header'](stamp=time, frame_id=frame)

    def image(self, stamp_ns, pixels, encoding):
        rows = np.ascontiguousarray(pixels).reshape(pixels.shape[0], -1).view(np.uint8)
        return self.t['sensor_msgs/msg/Image'](
            header=self.header(stamp_ns), height=pixels.shape[0], width=pixels.shape[1],
            encoding=encoding, is_bigendian=0, step=rows.shape[1], data=rows.reshape(-1))

    def info(self, stamp_ns, width, height):
        k = np.array([20.0, 0, width / 2, 0, 20.0, height / 2, 0, 0, 1.0])
        p = np.array([20.0, 0, width / 2, 0, 0, 20.0, height / 2, 0, 0, 0, 1.0, 0])
        roi = self.t['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0,
                                                         width=0, do_rectify=False)
        names = ('D', 'K', 'R', 'P') if self.ros1 else ('d', 'k', 'r', 'p')
        arrays = dict(zip(names, (np.zeros(5), k, np.eye(3).reshape(-1), p)))
        return self.t['sensor_msgs/msg/CameraInfo'](
            header=self.header(stamp_ns), height=height, width=width,
            distortion_model='plumb_bob', binning_x=0, binning_y=0, roi=roi, **arrays)

    def pose(self, stamp_ns, x):
        m = self.t
        pose = m['geometry_msgs/msg/Pose'](
            position=m['geometry_msgs/msg/Point'](x=x, y=0.0, z=0.0),
            orientation=m['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0))
        return m['geometry_msgs/msg/PoseStamped'](header=self.header(stamp_ns, 'map'),
                                                  pose=pose)

    def write(self, path, images, depth=()):
        """Write ``images`` ([(stamp_ns, Image)]) with camera_info and poses around them.

        ``depth`` ([(stamp_ns, Image)]) goes on ``/cam/depth``.
        """
        if self.ros1:
            from rosbags.rosbag1 import Writer
            writer, serialize = Writer(path), self.ts.serialize_ros1
        else:
            from rosbags.rosbag2 import Writer
            writer, serialize = Writer(path, version=9), self.ts.serialize_cdr
        stamps = [s for s, _ in images]
        with writer:
            conns = {topic: writer.add_connection(topic, kind, typestore=self.ts)
                     for topic, kind in (('/cam/image', 'sensor_msgs/msg/Image'),
                                         ('/cam/info', 'sensor_msgs/msg/CameraInfo'),
                                         ('/gt', 'geometry_msgs/msg/PoseStamped'),
                                         ('/cam/depth', 'sensor_msgs/msg/Image'))}
            for i, stamp in enumerate([stamps[0] - 10**8] + stamps + [stamps[-1] + 10**8]):
                pose = self.pose(stamp, float(i))
                writer.write(conns['/gt'], stamp, serialize(pose, pose.__msgtype__))
            for stamp, image in images:
                info = self.info(stamp, image.width, image.height)
                writer.write(conns['/cam/info'], stamp, serialize(info, info.__msgtype__))
                writer.write(conns['/cam/image'], stamp, serialize(image, image.__msgtype__))
            for stamp, image in depth:
                writer.write(conns['/cam/depth'], stamp, serialize(image, image.__msgtype__))
        return path


def test_ros1_bag_is_extracted_and_refused_by_replay_with_the_remedy(tmp_path, capsys):
    b = _BagBuilder(ros1=True)
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, :4] = (200, 10, 20)
    bayer = np.zeros((6, 8), np.uint8)  # rggb of a uniform (200, 100, 50)
    bayer[0::2, 0::2], bayer[0::2, 1::2], bayer[1::2, 0::2], bayer[1::2, 1::2] = \
        200, 100, 100, 50
    bag = b.write(tmp_path / 'robot.bag', [(T0, b.image(T0, rgb, 'rgb8')),
                                           (T0 + 10**8, b.image(T0 + 10**8, bayer,
                                                                'bayer_rggb8'))])
    assert bag_info(bag)['storage'] == 'rosbag1'
    report = _extract(bag, tmp_path / 'out')
    assert report['frames_written'] == 2 and report['camera']['fx'] == 20.0
    frames = read_scene(tmp_path / 'out').frames
    np.testing.assert_array_equal(load_image(frames[0]), rgb)
    assert np.abs(load_image(frames[1])[2:4, 2:6].astype(int) - (200, 100, 50)).max() <= 1
    np.testing.assert_allclose(frames[0].T_world_cam[0, 3], 1.0)
    code, out, err = _cli(capsys, 'replay', bag, '--no-progress')
    assert code == 1 and 'ROS 1 bag' in err and 'rosbags-convert' in err


@pytest.mark.parametrize('encoding', ['32FC1', 'nv12', 'bayer_xyz8'])
def test_unsupported_encoding_is_named_not_blamed_on_ground_truth(tmp_path, encoding):
    b = _BagBuilder(ros1=False)
    shape = (4, 8, 4) if encoding == '32FC1' else (4, 8)
    pixels = np.zeros(shape, np.uint8)
    bag = b.write(tmp_path / 'bag', [(T0 + i * 10**8, b.image(T0 + i * 10**8, pixels,
                                                              encoding)) for i in range(2)])
    with pytest.raises(ValueError) as info:
        _extract(bag, tmp_path / 'out')
    text = str(info.value)
    assert 'ground truth' not in text
    assert '/cam/image message #0' in text and 'stamp 1700000000.000000000 s' in text
    assert 'encoding: ' in text and repr(encoding) in text


def test_one_truncated_frame_is_dropped_and_named(tmp_path):
    b = _BagBuilder(ros1=False)
    good = b.image(T0, np.full((4, 8, 3), 60, np.uint8), 'rgb8')
    bad = b.image(T0 + 10**8, np.full((4, 8, 3), 60, np.uint8), 'rgb8')
    bad.data = bad.data[:-7]
    bag = b.write(tmp_path / 'bag', [(T0, good), (T0 + 10**8, bad)])
    report = _extract(bag, tmp_path / 'out')
    assert report['frames_written'] == 1 and report['bad_images'] == 1
    assert report['bad_image_reasons'][0].startswith('/cam/image message #1 (stamp ')
    assert 'data: truncated data' in report['bad_image_reasons'][0]


def test_camera_info_with_skew_is_refused_by_name(tmp_path):
    b = _BagBuilder(ros1=False)
    image = b.image(T0, np.zeros((4, 8, 3), np.uint8), 'rgb8')
    bag = b.write(tmp_path / 'bag', [(T0, image)])
    # rewrite the one camera_info with a skewed K
    skewed = tmp_path / 'skewed'
    from rosbags.rosbag2 import Writer
    info = b.info(T0, 8, 4)
    info.k[1] = 2.0
    with Writer(skewed, version=9) as writer, BagReader(bag) as reader:
        conns = {}
        for m in reader.messages():
            if m.topic not in conns:
                conns[m.topic] = writer.add_connection(m.topic, m.msgtype, typestore=b.ts)
            raw = b.ts.serialize_cdr(info, info.__msgtype__) if m.topic == '/cam/info' \
                else m.raw
            writer.write(conns[m.topic], m.log_time_ns, raw)
    with pytest.raises(ValueError, match=r'/cam/info message #0 .*skew'):
        _extract(skewed, tmp_path / 'out')


def test_images_are_saved_losslessly_in_rgb(tmp_path):
    """The written PNGs hold the decoded RGB (a regression guard on the channel order)."""
    report = _extract(CASES / 'compressed_rgb_order', tmp_path / 'out',
                      image_topic='/cam/image/compressed')
    first = sorted((tmp_path / 'out' / 'rgb').glob('*.png'))[0]
    bgr = cv2.imread(str(first))
    assert report['frames_written'] == 4 and bgr[4, 3, 2] > 240 and bgr[4, 3, 0] < 15


def test_a_type_neither_in_the_bag_nor_the_store_is_named_in_one_line(tmp_path):
    import sqlite3
    bag = tmp_path / 'custom'
    shutil.copytree(CASES / 'humble_bag' / 'humble_db3', bag)
    meta = bag / 'metadata.yaml'
    meta.write_text(meta.read_text().replace('geometry_msgs/msg/PoseStamped',
                                             'acme_msgs/msg/Pose'))
    with sqlite3.connect(bag / 'input_bag_0.db3') as db:
        db.execute("update topics set type='acme_msgs/msg/Pose' where name='/gt'")
    with pytest.raises(BagError) as info, BagReader(bag) as reader:
        list(reader.messages(['/gt']))
    text = str(info.value)
    assert '/gt [acme_msgs/msg/Pose] message #0' in text and '--typestore' in text
    assert '\n' not in text


def _depth_msg(b, stamp_ns, depth, encoding, bigendian=False, pad=0):
    """Build a depth Image: ``depth`` in its encoding's unit, rows padded by ``pad`` bytes."""
    dtype = np.dtype(('>' if bigendian else '<') + ('u2' if encoding == '16UC1' else 'f4'))
    rows = np.ascontiguousarray(depth.astype(dtype)).view(np.uint8).reshape(depth.shape[0], -1)
    rows = np.concatenate([rows, np.full((rows.shape[0], pad), 7, np.uint8)], axis=1)
    return b.t['sensor_msgs/msg/Image'](
        header=b.header(stamp_ns), height=depth.shape[0], width=depth.shape[1],
        encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1],
        data=rows.reshape(-1))


def test_depth_image_to_metres_honours_encoding_step_and_byte_order():
    from pose_reloc.ros.image_decode import depth_image_to_metres, ImageDecodeError
    b = _BagBuilder(ros1=False)
    mm = np.array([[0, 1000, 2500], [65535, 1, 3000]], np.uint16)
    for bigendian, pad in ((False, 0), (True, 2)):
        got = depth_image_to_metres(_depth_msg(b, T0, mm, '16UC1', bigendian, pad))
        np.testing.assert_allclose(got[~np.isnan(got)], [1.0, 2.5, 65.535, 0.001, 3.0],
                                   rtol=1e-6)
        assert np.isnan(got[0, 0]) and got.dtype == np.float32
    metres = np.array([[np.nan, 1.25, 0.0], [np.inf, 2.0, -1.0]], np.float32)
    got = depth_image_to_metres(_depth_msg(b, T0, metres, '32FC1', True, 4))
    np.testing.assert_allclose(got[:, 1], [1.25, 2.0])
    assert np.isnan(got[[0, 0, 1, 1], [0, 2, 0, 2]]).all()
    with pytest.raises(ImageDecodeError, match='encoding') as info:
        depth_image_to_metres(b.image(T0, np.zeros((2, 3), np.uint8), 'mono8'))
    assert info.value.unsupported


def test_aligned_depth_topic_is_extracted(tmp_path):
    b = _BagBuilder(ros1=False)
    stamps = [T0 + i * 10**8 for i in range(4)]
    rgb = np.full((6, 8, 3), 90, np.uint8)
    images = [(s, b.image(s, rgb, 'rgb8')) for s in stamps]
    depth_mm = (np.arange(48, dtype=np.uint16).reshape(6, 8) + 1000)
    # depth 2 ms after frames 0 and 1, none near frame 2, 32FC1 metres for frame 3
    depth = [(stamps[0] + 2 * 10**6, _depth_msg(b, 0, depth_mm, '16UC1', pad=6)),
             (stamps[1] + 2 * 10**6, _depth_msg(b, 0, depth_mm, '16UC1')),
             (stamps[2] + 50 * 10**6, _depth_msg(b, 0, depth_mm, '16UC1')),
             (stamps[3], _depth_msg(b, 0, depth_mm / 1000.0, '32FC1'))]
    for stamp, msg in depth:   # the header stamps match the log times
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
    bag = b.write(tmp_path / 'bag', images, depth)
    report = _extract(bag, tmp_path / 'out', depth_topic='/cam/depth', depth_tolerance_s=0.005)
    assert report['frames_written'] == 3 and report['dropped_no_depth'] == 1
    frames = read_scene(tmp_path / 'out').frames
    assert [f.timestamp_ns for f in frames] == [stamps[0], stamps[1], stamps[3]]
    for frame in frames:
        np.testing.assert_allclose(load_depth(frame), depth_mm / 1000.0, atol=1e-6)
    # a depth image of another size than the colour image is refused by name
    small = [(s, _depth_msg(b, s, depth_mm[:3, :4], '16UC1')) for s in stamps]
    bag2 = b.write(tmp_path / 'bag2', images, small)
    with pytest.raises(ValueError, match='/cam/depth message #0.*aligned'):
        _extract(bag2, tmp_path / 'out2', depth_topic='/cam/depth')
