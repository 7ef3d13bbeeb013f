# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Bag export of synthetic sequences: rosbags round trip (.mcap and .db3) and the TF chain."""

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from pose_reloc.data.formats.posed_folder import read_root
from pose_reloc.data.records import load_image
from pose_reloc.data.synthetic.generate import generate_dataset
from pose_reloc.ros.bag_export import bag_path_and_storage, export_bag
from pose_reloc.ros.conversions import any_image_to_rgb, camera_info_to_camera, msg_to_T
from pose_reloc.ros.conversions import stamp_to_ns


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth_bag') / 'data'
    return generate_dataset(out, 'tiny', scenes=1, seed=2, frames=8, size=(64, 48),
                            progress=False)


def _read(bag_dir):
    """All messages by topic: list of (log_time_ns, msg)."""
    out = {}
    with AnyReader([bag_dir]) as reader:
        for conn, log_time, raw in reader.messages():
            out.setdefault(conn.topic, []).append((log_time, reader.deserialize(raw,
                                                                                conn.msgtype)))
        types = {c.topic: c.msgtype for c in reader.connections}
    return out, types


@pytest.mark.parametrize('name,fmt,storage_file', [('seq.mcap', 'rgb8', 'seq.mcap'),
                                                   ('seq.db3', 'bgr8', 'seq.db3'),
                                                   ('seqj.mcap', 'jpeg', 'seqj.mcap')])
def test_bag_round_trip(dataset, tmp_path, name, fmt, storage_file):
    bag = export_bag(dataset, tmp_path / name, image_format=fmt, progress=False)
    assert (bag / 'metadata.yaml').is_file() and (bag / storage_file).is_file()
    scene = read_root(dataset)[0]
    frames = sorted(scene.split('test'), key=lambda f: f.timestamp_ns)
    assert len({f.sequence for f in frames}) == 1, 'the default bag is the test sequence'
    msgs, types = _read(bag)
    image_topic = '/camera/image_raw/compressed' if fmt == 'jpeg' else '/camera/image_raw'
    assert types[image_topic] == ('sensor_msgs/msg/CompressedImage' if fmt == 'jpeg'
                                  else 'sensor_msgs/msg/Image')
    assert types['/tf'] == types['/tf_static'] == 'tf2_msgs/msg/TFMessage'
    assert types['/ground_truth/pose'] == 'geometry_msgs/msg/PoseStamped'
    images, infos, gts = msgs[image_topic], msgs['/camera/camera_info'], \
        msgs['/ground_truth/pose']
    assert len(images) == len(infos) == len(gts) == len(msgs['/tf']) == len(frames)
    for frame, (t_img, img), (t_info, info), (t_gt, gt) in zip(frames, images, infos, gts):
        stamp = frame.timestamp_ns
        assert t_img == t_info == t_gt == stamp
        assert stamp_to_ns(img.header.stamp) == stamp_to_ns(gt.header.stamp) == stamp
        assert img.header.frame_id == info.header.frame_id == 'camera_optical_frame'
        assert gt.header.frame_id == 'map'
        rgb = any_image_to_rgb(img)
        if fmt == 'jpeg':
            assert np.abs(rgb.astype(int) - load_image(frame)).mean() < 8
        else:
            assert img.encoding == fmt
            assert np.array_equal(rgb, load_image(frame))
        assert camera_info_to_camera(info) == frame.camera
        assert np.allclose(msg_to_T(gt), frame.T_world_cam, atol=1e-9)


def test_tf_chain_equals_dataset_pose(dataset, tmp_path):
    bag = export_bag(dataset, tmp_path / 'chain', storage='sqlite3', sequence='seq-01',
                     progress=False)
    assert (bag / 'chain.db3').is_file()
    scene = read_root(dataset)[0]
    frames = [f for f in scene.frames if f.sequence == 'seq-01']
    msgs, _ = _read(bag)
    (static_time, static), = msgs['/tf_static']
    (T_base_cam_msg,) = static.transforms
    assert T_base_cam_msg.header.frame_id == 'base_link'
    assert T_base_cam_msg.child_frame_id == 'camera_optical_frame'
    T_base_cam = msg_to_T(T_base_cam_msg)
    assert np.allclose(T_base_cam, scene.metadata['T_base_cam'], atol=1e-12)
    # Mounting is realistic: the optical axis (z) looks along base x, image down is base -z.
    assert T_base_cam[:3, 2] @ [1.0, 0.0, 0.0] > 0.9
    assert T_base_cam[:3, 1] @ [0.0, 0.0, -1.0] > 0.9
    assert 0.3 <= T_base_cam[2, 3] <= 1.8
    assert static_time == frames[0].timestamp_ns
    tf_at = {}
    for _, msg in msgs['/tf']:
        (tf,) = msg.transforms
        assert (tf.header.frame_id, tf.child_frame_id) == ('map', 'base_link')
        tf_at[stamp_to_ns(tf.header.stamp)] = msg_to_T(tf)
    for frame in frames:
        T_map_cam = tf_at[frame.timestamp_ns] @ T_base_cam
        assert np.allclose(T_map_cam, frame.T_world_cam, atol=1e-9)


def test_bag_path_rules(tmp_path):
    assert bag_path_and_storage(tmp_path / 'a.mcap') == (tmp_path / 'a', 'mcap')
    assert bag_path_and_storage(tmp_path / 'a.db3') == (tmp_path / 'a', 'sqlite3')
    assert bag_path_and_storage(tmp_path / 'a', 'sqlite3') == (tmp_path / 'a', 'sqlite3')
    with pytest.raises(ValueError, match='implies storage'):
        bag_path_and_storage(tmp_path / 'a.mcap', 'sqlite3')


def test_bag_refuses_bad_input(dataset, tmp_path):
    with pytest.raises(ValueError, match='no sequence'):
        export_bag(dataset, tmp_path / 'x.mcap', sequence='seq-99', progress=False)
    with pytest.raises(ValueError, match='image_format'):
        export_bag(dataset, tmp_path / 'y.mcap', image_format='rgba16', progress=False)
    with pytest.raises(ValueError, match='T_base_cam: pose rotation is not a rotation'):
        export_bag(dataset, tmp_path / 'w.mcap', T_base_cam=np.diag([2.0, 1.0, 1.0, 1.0]),
                   progress=False)
    export_bag(dataset, tmp_path / 'z.mcap', progress=False)
    with pytest.raises(FileExistsError):
        export_bag(dataset, tmp_path / 'z.mcap', progress=False)
    # overwrite replaces the bag (the old one is moved aside, then removed).
    first = (tmp_path / 'z' / 'metadata.yaml').stat().st_ino
    export_bag(dataset, tmp_path / 'z.mcap', image_format='jpeg', overwrite=True,
               progress=False)
    assert (tmp_path / 'z' / 'metadata.yaml').stat().st_ino != first
    assert 'CompressedImage' in (tmp_path / 'z' / 'metadata.yaml').read_text()
    assert not list(tmp_path.glob('.*partial')) and not (tmp_path / 'w').exists()


def test_extract_recovers_the_dataset(dataset, tmp_path):
    from pose_reloc.ros.extract import extract_bag
    bag = export_bag(dataset, tmp_path / 'seq.mcap', progress=False)
    out = tmp_path / 'extracted'
    extract_bag(bag, out, '/camera/image_raw', camera_info_topic='/camera/camera_info',
                tf_parent='map')
    (got,) = read_root(out)
    want = {f.timestamp_ns: f for f in read_root(dataset)[0].split('test')}
    assert sorted(f.timestamp_ns for f in got.frames) == sorted(want)
    for frame in got.frames:
        ref = want[frame.timestamp_ns]
        assert frame.camera == ref.camera
        assert np.allclose(frame.T_world_cam, ref.T_world_cam, atol=1e-9)
        assert np.array_equal(load_image(frame), load_image(ref))


def test_extract_without_poses_gives_unlabeled_images(dataset, tmp_path):
    """A bag's image topic with no pose source: images + camera, read by load_images."""
    from pose_reloc.data.unlabeled import load_images
    from pose_reloc.ros.extract import extract_bag
    bag = export_bag(dataset, tmp_path / 'seq.mcap', progress=False)
    out = tmp_path / 'unposed'
    report = extract_bag(bag, out, '/camera/image_raw', camera_info_topic='/camera/camera_info',
                         no_poses=True, progress=False)
    assert report['mode'] == 'unposed' and not (out / 'poses.txt').exists()
    records = load_images(out)
    want = {f.timestamp_ns: f for f in read_root(dataset)[0].split('test')}
    assert sorted(int(r.image_path.stem) for r in records) == sorted(want)
    ref = want[int(records[0].image_path.stem)]
    assert records[0].camera == ref.camera
    assert np.array_equal(load_image(records[0]), load_image(ref))
    with pytest.raises(ValueError, match='no_poses extracts images without ground truth'):
        extract_bag(bag, tmp_path / 'x', '/camera/image_raw', tf_parent='map', no_poses=True)
