# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Export a posed-folder sequence as a ROS 2 bag (``.mcap`` or sqlite3 ``.db3``) with rosbags.

The bag is what a robot would record while driving the sequence:

=============================  =================================  ===========================
topic                          type                               content
=============================  =================================  ===========================
``/camera/image_raw``          sensor_msgs/msg/Image              rgb8 or bgr8 frames
``/camera/image_raw/compressed`` sensor_msgs/msg/CompressedImage  jpeg frames (instead)
``/camera/camera_info``        sensor_msgs/msg/CameraInfo         intrinsics, every frame
``/tf``                        tf2_msgs/msg/TFMessage             ``map -> base_link``
``/tf_static``                 tf2_msgs/msg/TFMessage             ``base_link ->
                                                                  camera_optical_frame``
                                                                  (transient local, once)
``/ground_truth/pose``         geometry_msgs/msg/PoseStamped      the *camera optical frame*
                                                                  in ``map`` (= the
                                                                  dataset's ``T_world_cam``)
=============================  =================================  ===========================

Every message of a frame carries the frame's time stamp (header stamp = bag log time);
``/tf_static`` is logged at the first stamp. ``map -> base_link`` is
``T_world_cam @ inv(T_base_cam)``, where ``T_base_cam`` is the camera mounting
(base_link: x forward, y left, z up, REP-103; optical frame: z forward, x right, y down),
taken from the dataset's ``scene.json`` (``metadata.T_base_cam``, written by the synthetic
generator) or a default mounting 0.1 m forward and 1.1 m up. So composing the TF chain at
an image stamp gives back the dataset pose exactly.

The output is a rosbag2 directory (``metadata.yaml`` plus one data file named after the
directory), written to a hidden temporary directory and renamed when complete.
"""

from pathlib import Path
import shutil
from typing import Optional, Union

import numpy as np
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness
from rosbags.interfaces import QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores
from tqdm import tqdm

from pose_reloc.data.formats.posed_folder import read_root
from pose_reloc.data.records import check_T_world_cam, load_image
from pose_reloc.geometry.se3 import invert, make_T, T_to_pos_quat
from pose_reloc.ros.conversions import camera_info_fields, compress_rgb

MAP_FRAME = 'map'
BASE_FRAME = 'base_link'
CAMERA_FRAME = 'camera_optical_frame'
IMAGE_TOPIC = '/camera/image_raw'
COMPRESSED_TOPIC = '/camera/image_raw/compressed'
CAMERA_INFO_TOPIC = '/camera/camera_info'
GROUND_TRUTH_TOPIC = '/ground_truth/pose'
IMAGE_FORMATS = ('rgb8', 'bgr8', 'jpeg')
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}

#: default camera mounting when the dataset has none: optical centre 0.1 m forward and
#: 1.1 m above base_link, looking along base x.
DEFAULT_T_BASE_CAM = make_T(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
                            np.array([0.1, 0.0, 1.1]))

_INF = QosTime(2147483647, 4294967295)
_TF_STATIC_QOS = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE,
                     QosDurability.TRANSIENT_LOCAL, _INF, _INF, QosLiveliness.AUTOMATIC, _INF,
                     False)
_DEFAULT_QOS = Qos(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE,
                   _INF, _INF, QosLiveliness.AUTOMATIC, _INF, False)


def bag_path_and_storage(out: Union[str, Path], storage: Optional[str] = None):
    """Resolve the bag directory and storage from an output path.

    ``run.mcap`` -> directory ``run/`` with ``run.mcap`` (mcap storage); ``run.db3`` ->
    ``run/`` with ``run.db3`` (sqlite3); a path without these suffixes is the directory
    itself, with ``storage`` (default mcap).

    Returns:
        ``(directory Path, storage name)``.

    Raises:
        ValueError: an unknown storage, or a suffix contradicting ``storage``.
    """
    out = Path(out)
    by_suffix = {'.mcap': 'mcap', '.db3': 'sqlite3'}.get(out.suffix)
    if storage is not None and storage not in STORAGES:
        raise ValueError(f'bag storage must be one of {sorted(STORAGES)}, got {storage!r}')
    if by_suffix and storage and by_suffix != storage:
        raise ValueError(f'bag path {out} implies storage {by_suffix} but {storage} was asked')
    if by_suffix:
        return out.with_suffix(''), by_suffix
    return out, storage or 'mcap'


class _Messages:
    """Builds the rosbags message objects of the exported topics."""

    def __init__(self):
        # Kilted's message definitions (and type hashes) when this rosbags knows them.
        self.ts = get_typestore(getattr(Stores, 'ROS2_KILTED', Stores.LATEST))
        t = self.ts.types
        self.Time = t['builtin_interfaces/msg/Time']
        self.Header = t['std_msgs/msg/Header']
        self.Image = t['sensor_msgs/msg/Image']
        self.CompressedImage = t['sensor_msgs/msg/CompressedImage']
        self.CameraInfo = t['sensor_msgs/msg/CameraInfo']
        self.RegionOfInterest = t['sensor_msgs/msg/RegionOfInterest']
        self.TFMessage = t['tf2_msgs/msg/TFMessage']
        self.TransformStamped = t['geometry_msgs/msg/TransformStamped']
        self.Transform = t['geometry_msgs/msg/Transform']
        self.Vector3 = t['geometry_msgs/msg/Vector3']
        self.Quaternion = t['geometry_msgs/msg/Quaternion']
        self.PoseStamped = t['geometry_msgs/msg/PoseStamped']
        self.Pose = t['geometry_msgs/msg/Pose']
        self.Point = t['geometry_msgs/msg/Point']

    def header(self, stamp_ns: int, frame_id: str):
        sec, nanosec = divmod(int(stamp_ns), 10 ** 9)
        return self.Header(stamp=self.Time(sec=sec, nanosec=nanosec), frame_id=frame_id)

    def image(self, rgb, stamp_ns, encoding, jpeg_quality):
        if encoding == 'jpeg':
            return self.CompressedImage(header=self.header(stamp_ns, CAMERA_FRAME),
                                        format='rgb8; jpeg compressed bgr8',
                                        data=compress_rgb(rgb, 'jpeg', jpeg_quality))
        pixels = rgb if encoding == 'rgb8' else np.ascontiguousarray(rgb[:, :, ::-1])
        h, w = pixels.shape[:2]
        return self.Image(header=self.header(stamp_ns, CAMERA_FRAME), height=h, width=w,
                          encoding=encoding, is_bigendian=0, step=w * 3,
                          data=np.ascontiguousarray(pixels).reshape(-1))

    def camera_info(self, camera, stamp_ns):
        roi = self.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return self.CameraInfo(header=self.header(stamp_ns, CAMERA_FRAME),
                               binning_x=0, binning_y=0, roi=roi, **camera_info_fields(camera))

    def transform(self, T, stamp_ns, parent, child):
        t, q = T_to_pos_quat(T)
        tf = self.Transform(translation=self.Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                            rotation=self.Quaternion(x=float(q[0]), y=float(q[1]),
                                                     z=float(q[2]), w=float(q[3])))
        return self.TransformStamped(header=self.header(stamp_ns, parent), child_frame_id=child,
                                     transform=tf)

    def tf(self, *transforms):
        return self.TFMessage(transforms=list(transforms))

    def pose_stamped(self, T, stamp_ns, frame_id):
        t, q = T_to_pos_quat(T)
        pose = self.Pose(position=self.Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                         orientation=self.Quaternion(x=float(q[0]), y=float(q[1]),
                                                     z=float(q[2]), w=float(q[3])))
        return self.PoseStamped(header=self.header(stamp_ns, frame_id), pose=pose)


def export_bag(dataset: Union[str, Path], out: Union[str, Path], scene: Optional[str] = None,
               sequence: Optional[str] = None, image_format: str = 'rgb8',
               storage: Optional[str] = None, jpeg_quality: int = 90,
               T_base_cam: Optional[np.ndarray] = None, overwrite: bool = False,
               progress: bool = True) -> Path:
    """Write one sequence of a posed-folder dataset as a rosbag2 bag.

    Args:
        dataset: a posed scene folder or a multi-scene root.
        out: bag path: ``name.mcap``, ``name.db3`` or a directory name (see
            :func:`bag_path_and_storage`); the bag directory is created.
        scene: scene name within a root (default: the first scene).
        sequence: sequence name (default: the scene's first test sequence, else its first
            sequence; ``''`` for all frames in time order).
        image_format: ``'rgb8'`` / ``'bgr8'`` (sensor_msgs/Image) or ``'jpeg'``
            (sensor_msgs/CompressedImage).
        storage: ``'mcap'`` or ``'sqlite3'`` (default from the suffix, else mcap).
        jpeg_quality: JPEG quality for ``image_format='jpeg'``.
        T_base_cam: (4, 4) camera mounting in base_link (default: the dataset's
            ``T_base_cam`` metadata, else :data:`DEFAULT_T_BASE_CAM`).
        overwrite: replace an existing bag directory.
        progress: show a tqdm progress bar.

    Returns:
        The bag directory (holding ``metadata.yaml`` and the ``.mcap`` / ``.db3`` file).

    Raises:
        ValueError: unknown scene, sequence, image format or storage, or a ``T_base_cam``
            that is not a (4, 4) rigid transform.
        FileExistsError: the bag exists and ``overwrite`` is False.
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f'image_format must be one of {IMAGE_FORMATS}, got {image_format!r}')
    bag_dir, storage_name = bag_path_and_storage(out, storage)
    scenes = read_root(dataset, check_images=False)
    if scene is None:
        chosen = scenes[0]
    else:
        matches = [s for s in scenes if s.name == scene]
        if not matches:
            raise ValueError(f'{dataset}: no scene {scene!r}; scenes: '
                             f'{[s.name for s in scenes]}')
        chosen = matches[0]
    frames = _sequence_frames(chosen, sequence, dataset)
    if T_base_cam is None:
        T_base_cam = np.asarray(chosen.metadata.get('T_base_cam', DEFAULT_T_BASE_CAM),
                                np.float64)
    T_base_cam = check_T_world_cam(T_base_cam, f'{dataset}: T_base_cam')
    if bag_dir.exists() and not overwrite:
        raise FileExistsError(f'{bag_dir}: already exists (pass overwrite=True / --overwrite)')
    tmp_parent = bag_dir.parent / f'.{bag_dir.name}.partial'
    if tmp_parent.exists():
        shutil.rmtree(tmp_parent)
    tmp_parent.mkdir(parents=True)
    try:
        _write(tmp_parent / bag_dir.name, storage_name, frames, image_format, jpeg_quality,
               T_base_cam, progress)
        if bag_dir.exists():
            bag_dir.rename(tmp_parent / 'replaced')
        (tmp_parent / bag_dir.name).rename(bag_dir)
    finally:
        shutil.rmtree(tmp_parent, ignore_errors=True)
    return bag_dir


def _sequence_frames(scene, sequence, dataset):
    frames = sorted(scene.frames, key=lambda f: f.timestamp_ns)
    if sequence == '':
        return frames
    names = list(dict.fromkeys(f.sequence for f in frames if f.sequence))
    if sequence is None:
        tests = [n for n in names if any(f.split == 'test' for f in frames if f.sequence == n)]
        if tests:
            sequence = tests[0]
        elif names:
            sequence = names[0]
        else:
            return frames
    chosen = [f for f in frames if f.sequence == sequence]
    if not chosen:
        raise ValueError(f'{dataset}: scene {scene.name} has no sequence {sequence!r}; '
                         f'sequences: {names}')
    return chosen


def _write(bag_dir, storage_name, frames, image_format, jpeg_quality, T_base_cam, progress):
    m = _Messages()
    ts = m.ts
    with Writer(bag_dir, version=9, storage_plugin=STORAGES[storage_name]) as writer:
        if image_format == 'jpeg':
            img_conn = writer.add_connection(COMPRESSED_TOPIC, m.CompressedImage.__msgtype__,
                                             typestore=ts, offered_qos_profiles=[_DEFAULT_QOS])
        else:
            img_conn = writer.add_connection(IMAGE_TOPIC, m.Image.__msgtype__, typestore=ts,
                                             offered_qos_profiles=[_DEFAULT_QOS])
        info_conn = writer.add_connection(CAMERA_INFO_TOPIC, m.CameraInfo.__msgtype__,
                                          typestore=ts, offered_qos_profiles=[_DEFAULT_QOS])
        tf_conn = writer.add_connection('/tf', m.TFMessage.__msgtype__, typestore=ts,
                                        offered_qos_profiles=[_DEFAULT_QOS])
        static_conn = writer.add_connection('/tf_static', m.TFMessage.__msgtype__, typestore=ts,
                                            offered_qos_profiles=[_TF_STATIC_QOS])
        gt_conn = writer.add_connection(GROUND_TRUTH_TOPIC, m.PoseStamped.__msgtype__,
                                        typestore=ts, offered_qos_profiles=[_DEFAULT_QOS])
        first = frames[0].timestamp_ns
        static = m.tf(m.transform(T_base_cam, first, BASE_FRAME, CAMERA_FRAME))
        writer.write(static_conn, first, ts.serialize_cdr(static, m.TFMessage.__msgtype__))
        T_cam_base = invert(T_base_cam)
        for frame in tqdm(frames, disable=not progress, unit='frame', desc=f'bag {bag_dir.name}'):
            stamp = frame.timestamp_ns
            T_map_base = frame.T_world_cam @ T_cam_base
            tf = m.tf(m.transform(T_map_base, stamp, MAP_FRAME, BASE_FRAME))
            writer.write(tf_conn, stamp, ts.serialize_cdr(tf, m.TFMessage.__msgtype__))
            info = m.camera_info(frame.camera, stamp)
            writer.write(info_conn, stamp, ts.serialize_cdr(info, m.CameraInfo.__msgtype__))
            img = m.image(load_image(frame), stamp, image_format, jpeg_quality)
            writer.write(img_conn, stamp, ts.serialize_cdr(img, img.__msgtype__))
            gt = m.pose_stamped(frame.T_world_cam, stamp, MAP_FRAME)
            writer.write(gt_conn, stamp, ts.serialize_cdr(gt, m.PoseStamped.__msgtype__))
