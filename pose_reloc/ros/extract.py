# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Turn a robot bag into a posed-folder dataset (images + ground-truth camera poses).

Bags: rosbag2 (``.db3``, ``.mcap``, any metadata version, with or without stored message
definitions) and ROS 1 ``.bag`` files, read by :class:`~pose_reloc.ros.bag_io.BagReader`
(``typestore`` picks the standard types of bags that do not define them).

Ground truth comes from one of:

- a pose topic: ``geometry_msgs/PoseStamped``, ``PoseWithCovarianceStamped`` or
  ``nav_msgs/Odometry``, interpolated (lerp + slerp) to each image stamp;
- a TF chain ``tf_parent -> tf_child`` from ``/tf`` and ``/tf_static``, looked up at each image
  stamp with the interpolating ``TfBuffer``.

Images (``sensor_msgs/Image`` or ``CompressedImage``, decoded by
:mod:`pose_reloc.ros.image_decode`: every common encoding, the ``format`` channel order) are
stamped with their header time (log time when the header stamp is zero). Images outside the
time range of the ground truth, and single undecodable images, are dropped and counted in the
report; nothing is dropped silently. An encoding or format the decoder does not read stops
the extraction at once with an error that names the topic, the message index and stamp and
the field: it is never reported as missing ground truth.

The camera frame: posed folders hold ``T_world_cam`` of the optical frame. When the ground
truth names another body (``tf_child`` or the pose topic's child frame, e.g. ``base_link``)
and the bag's TF has a chain from that body to the image's ``header.frame_id``, the mounting is
composed in (``T_world_cam = T_world_body @ T_body_cam``) and reported; otherwise the ground
truth is used as the camera pose and the report says so.

Pose-only mode (``image_topic=None``): bags without images (like the shared real bags) give a
TUM trajectory ``<out>/poses.txt`` of the ground-truth source (``T_parent_child``, one line per
pose message, or per sample of the chain's dynamic links for TF) plus ``extract_report.json``;
no images, no ``camera.yaml``. It is what training/evaluation code can align against when the
images come from elsewhere.
"""

import json
import os
from pathlib import Path
import shutil
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from pose_reloc.geometry.camera import PinholeCamera, read_camera_yaml, write_camera_yaml
from pose_reloc.geometry.se3 import interpolate_at
from pose_reloc.ros.bag_io import BagReader
from pose_reloc.ros.conversions import camera_info_to_camera, msg_to_T, stamp_to_ns
from pose_reloc.ros.image_decode import any_image_to_rgb, depth_image_to_metres, \
    describe_message, ImageDecodeError
from pose_reloc.ros.tf_buffer import TfBuffer, TransformError

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
POSE_TYPES = ('geometry_msgs/msg/PoseStamped', 'geometry_msgs/msg/PoseWithCovarianceStamped',
              'nav_msgs/msg/Odometry')
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
TF_TOPICS = ('/tf', '/tf_static')
#: how many distinct bad-image reasons the report lists.
MAX_REASONS = 10


def _load_tf(bag: BagReader, progress: bool) -> TfBuffer:
    buffer = TfBuffer()
    topics = [t for t in TF_TOPICS if t in bag.topics]
    if '/tf' not in topics and '/tf_static' not in topics:
        raise ValueError(f'bag {bag.path} has no /tf or /tf_static for a TF-chain ground truth')
    for m in tqdm(bag.messages(topics), total=bag.count(topics), desc='reading TF',
                  unit='msg', disable=not progress):
        buffer.add_tf_message(m.msg, static=m.topic == '/tf_static')
    return buffer


def _load_pose_topic(bag: BagReader, topic: str, progress: bool) -> dict:
    msgtype = bag.require_topic(topic, POSE_TYPES)
    stamps: Dict[int, np.ndarray] = {}
    log_times: Dict[int, int] = {}
    frames, children = set(), set()
    for m in tqdm(bag.messages([topic]), total=bag.count([topic]), desc=f'reading {topic}',
                  unit='msg', disable=not progress):
        stamp = stamp_to_ns(m.msg.header.stamp) or m.log_time_ns
        stamps[stamp] = msg_to_T(m.msg, f'{topic} at {stamp} ns')
        log_times[stamp] = m.log_time_ns
        frames.add(m.msg.header.frame_id)
        children.add(getattr(m.msg, 'child_frame_id', ''))
    if not stamps:
        raise ValueError(f'topic {topic} in {bag.path} has no messages')
    order = sorted(stamps)
    return {'type': msgtype, 'times_ns': np.array(order, dtype=np.int64),
            'poses': np.stack([stamps[t] for t in order]),
            'log_ns': np.array([log_times[t] for t in order], dtype=np.int64),
            'frame': ','.join(sorted(frames)),
            'child': ','.join(sorted(c for c in children if c))}


def _camera_from(camera) -> Optional[PinholeCamera]:
    if camera is None or isinstance(camera, PinholeCamera):
        return camera
    return read_camera_yaml(Path(camera))


def _read_camera_info(bag: BagReader, topic: str) -> PinholeCamera:
    bag.require_topic(topic, (CAMERA_INFO_TYPE,))
    for m in bag.messages([topic]):
        try:
            return camera_info_to_camera(m.msg)
        except ValueError as exc:
            raise ValueError(f'{describe_message(topic, 0, stamp_to_ns(m.msg.header.stamp))} '
                             f'in {bag.path}: {exc}') from None
    raise ValueError(f'camera_info topic {topic} in {bag.path} has no messages')


def _window(bag: BagReader, start: Optional[float], end: Optional[float]):
    start_ns = None if start is None else bag.start_ns + int(round(start * 1e9))
    end_ns = None if end is None else bag.start_ns + int(round(end * 1e9))
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise ValueError(f'--end ({end} s) must be after --start ({start} s)')
    return start_ns, end_ns


def _atomic_dir(out: Path) -> Path:
    if out.exists():
        raise FileExistsError(f'output {out} already exists; choose a new directory')
    partial = out.with_name(out.name + '.partial')
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def _finish_dir(partial: Path, out: Path) -> None:
    os.replace(partial, out)


def _write_report(directory: Path, report: dict) -> None:
    tmp = directory / 'extract_report.json.tmp'
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True))
    os.replace(tmp, directory / 'extract_report.json')


def _gt_at(gt: dict, buffer: Optional[TfBuffer], parent: str, body: str,
           stamp_ns: int) -> Optional[np.ndarray]:
    """Return T_parent_body at ``stamp_ns`` or None when outside the ground-truth range."""
    if buffer is not None:
        try:
            return buffer.lookup(parent, body, stamp_ns)
        except TransformError:
            return None
    poses, valid = interpolate_at(gt['times_ns'], gt['poses'], np.array([stamp_ns]))
    return poses[0] if valid[0] else None


def _pose_only(bag: BagReader, out: Path, pose_topic: Optional[str], tf_parent: Optional[str],
               tf_child: Optional[str], every: int, start_ns, end_ns, progress: bool,
               report: dict) -> dict:
    from pose_reloc.data.tum import write_tum_ns
    if pose_topic is not None:
        gt = _load_pose_topic(bag, pose_topic, progress)
        times, poses, log_ns = gt['times_ns'], gt['poses'], gt['log_ns']
        report.update(gt_frame=gt['frame'], gt_body=gt['child'] or '(pose topic body)')
    else:
        buffer = _load_tf(bag, progress)
        lo, hi = buffer.time_range(tf_parent, tf_child)
        links = set(buffer.chain_links(tf_parent, tf_child))
        samples = {}
        for m in bag.messages(['/tf']):
            for tr in m.msg.transforms:
                stamp = stamp_to_ns(tr.header.stamp)
                if (tr.child_frame_id.lstrip('/') in links and lo is not None
                        and lo <= stamp <= hi):
                    samples.setdefault(stamp, m.log_time_ns)
        if not samples:
            raise ValueError(f'the chain {tf_parent} -> {tf_child} in {bag.path} is static or '
                             'has no sample in a common time range')
        times = np.array(sorted(samples), dtype=np.int64)
        log_ns = np.array([samples[t] for t in times], dtype=np.int64)
        poses, _ = buffer.lookup_many(tf_parent, tf_child, times)
        report.update(gt_frame=tf_parent, gt_body=tf_child)
    keep = np.ones(len(times), dtype=bool)
    if start_ns is not None:
        keep &= log_ns >= start_ns
    if end_ns is not None:
        keep &= log_ns < end_ns
    report['dropped_outside_window'] = int((~keep).sum())
    times, poses = times[keep][::every], poses[keep][::every]
    if len(times) == 0:
        raise ValueError(f'no poses of {bag.path} fall in the --start/--end window')
    partial = _atomic_dir(out)
    write_tum_ns(partial / 'poses.txt', times, poses)
    report.update(frames_written=int(len(times)), time_range_s=[times[0] / 1e9,
                                                                times[-1] / 1e9])
    _write_report(partial, report)
    _finish_dir(partial, out)
    return report


def extract_bag(bag, out, image_topic: Optional[str], camera_info_topic: Optional[str] = None,
                pose_topic: Optional[str] = None, tf_parent: Optional[str] = None,
                tf_child: Optional[str] = None, every: int = 1, start: Optional[float] = None,
                end: Optional[float] = None, camera=None, scene_name: Optional[str] = None,
                split: str = '', progress: bool = True, typestore: str = 'auto',
                depth_topic: Optional[str] = None, depth_tolerance_s: float = 0.005,
                no_poses: bool = False) -> dict:
    """Extract a posed-folder dataset (or a pose-only TUM trajectory) from a bag.

    With ``no_poses`` (and no ground-truth source) the images are written without poses,
    as ``OUT/rgb/<stamp_ns>.png`` + ``OUT/camera.yaml``: unlabeled frames
    (:func:`pose_reloc.data.unlabeled.load_images`), e.g. a target domain or a photo pool.

    Args:
        bag: rosbag2 directory, ``.mcap`` or ``.db3`` path, or a ROS 1 ``.bag``.
        out: output directory (created atomically via ``<out>.partial``; must not exist).
        image_topic: Image or CompressedImage topic; None for pose-only mode.
        camera_info_topic: CameraInfo topic (first message used; distortion kept).
        pose_topic: ground truth from a PoseStamped / PoseWithCovarianceStamped / Odometry
            topic (exclusive with ``tf_parent``).
        tf_parent: ground truth from the TF chain ``tf_parent -> tf_child`` (e.g. ``map``).
        tf_child: the chain's child frame; default the image's ``header.frame_id``.
        every: keep every N-th image (or pose in pose-only mode), N >= 1.
        start: seconds after the bag's start to begin, on the bag's log-time clock like
            ``ros2 bag play --start-offset`` (None: the start).
        end: seconds after the bag's start to stop, log-time clock (None: the end).
        camera: intrinsics when the bag has no camera_info: a ``PinholeCamera`` or a ROS
            camera_info YAML path.
        scene_name: scene name written to the dataset (default the output folder's name).
        split: split label of every extracted frame (``''``, ``'train'``, ``'test'``...).
        progress: show tqdm progress bars.
        typestore: ``auto`` or a rosbags store name (``ros2_humble``...) for the standard
            types of bags without message definitions (see ``bag_io``).
        depth_topic: an Image topic of depth aligned to the images (same size and camera,
            e.g. ``/camera/aligned_depth_to_color/image_raw``; ``16UC1`` millimetres or
            ``32FC1`` metres): each frame gets the depth whose header stamp is nearest to its
            own, written to the dataset's ``depth/``; frames without one within
            ``depth_tolerance_s`` are dropped and counted (``dropped_no_depth``).
        depth_tolerance_s: largest image-to-depth stamp difference, seconds.
        no_poses: write the images without poses (no ground-truth source may be given).

    Returns:
        Report dict: ``mode`` ('images' | 'poses' | 'unposed'), ``frames_written``,
        ``images_total``, ``skipped_every``, ``dropped_out_of_range`` (no ground truth at the
        stamp), ``dropped_outside_window``, ``bad_images`` and ``bad_image_reasons``,
        ``camera`` and ``camera_source``, ``gt_source``, ``gt_frame``, ``camera_mount``,
        ``stamp_source``; with a depth topic also ``depth_topic`` and ``dropped_no_depth``.

    Raises:
        FileNotFoundError: missing bag or camera YAML.
        FileExistsError: ``out`` exists.
        ValueError: missing/mistyped topics, no ground-truth source or two of them, no
            intrinsics, an image size that does not match the intrinsics, no frame left, an
            unsupported image encoding (``ImageDecodeError``), an unreadable bag
            (``BagError``).

    """
    out = Path(out)
    if every < 1:
        raise ValueError(f'every must be >= 1, got {every}')
    if no_poses:
        if pose_topic is not None or tf_parent is not None or image_topic is None:
            raise ValueError('no_poses extracts images without ground truth: give an image '
                             f'topic and no pose source (got pose_topic={pose_topic!r}, '
                             f'tf_parent={tf_parent!r}, image_topic={image_topic!r})')
    elif (pose_topic is None) == (tf_parent is None):
        raise ValueError('give exactly one ground-truth source: a pose topic or a TF parent '
                         f'frame (got pose_topic={pose_topic!r}, tf_parent={tf_parent!r}), '
                         'or no_poses for unlabeled images')
    if image_topic is None and tf_parent is not None and not tf_child:
        raise ValueError('pose-only TF extraction needs tf_child (e.g. base_link)')
    with BagReader(bag, typestore) as reader:
        start_ns, end_ns = _window(reader, start, end)
        report = {'bag': str(reader.path), 'out': str(out), 'every': every,
                  'typestore': reader.store.value, 'bag_notes': list(reader.notes),
                  'gt_source': pose_topic if pose_topic else None if no_poses else
                  f'tf:{tf_parent}->{tf_child or "(image frame_id)"}',
                  'image_topic': image_topic, 'start_s': start, 'end_s': end}
        if image_topic is None:
            report['mode'] = 'poses'
            return _pose_only(reader, out, pose_topic, tf_parent, tf_child, every, start_ns,
                              end_ns, progress, report)
        report['mode'] = 'unposed' if no_poses else 'images'
        depth = None
        if depth_topic is not None:
            if depth_tolerance_s < 0:
                raise ValueError(f'depth_tolerance_s must be >= 0, got {depth_tolerance_s}')
            depth = DepthStream(reader, depth_topic, int(round(depth_tolerance_s * 1e9)),
                                progress)
            report['depth_topic'] = depth_topic
        return _extract_images(reader, out, image_topic, camera_info_topic, pose_topic,
                               tf_parent, tf_child, every, start_ns, end_ns,
                               _camera_from(camera), scene_name or out.name, split, progress,
                               report, depth)


def _extract_images(bag: BagReader, out: Path, image_topic: str, camera_info_topic,
                    pose_topic, tf_parent, tf_child, every, start_ns, end_ns, camera,
                    scene_name: str, split: str, progress: bool, report: dict,
                    depth: Optional['DepthStream'] = None) -> dict:
    from pose_reloc.data.formats.posed_folder import PosedFolderWriter
    bag.require_topic(image_topic, IMAGE_TYPES)
    if camera_info_topic is not None:
        camera, report['camera_source'] = _read_camera_info(bag, camera_info_topic), 'camera_info'
    elif camera is not None:
        report['camera_source'] = 'argument'
    else:
        raise ValueError(f'no intrinsics for {image_topic}: give a camera_info topic or a camera '
                         'YAML (--camera)')
    buffer, gt = None, None
    unposed = report['mode'] == 'unposed'
    parent, body = None, None
    if unposed:
        report['gt_frame'] = None
    elif pose_topic is not None:
        gt = _load_pose_topic(bag, pose_topic, progress)
        parent, body = gt['frame'], gt['child'] or None
        report['gt_frame'] = parent
    else:
        buffer = _load_tf(bag, progress)
        parent, body = tf_parent, tf_child
        report['gt_frame'] = tf_parent
    mount_buffer = buffer
    if mount_buffer is None and any(t in bag.topics for t in TF_TOPICS):
        mount_buffer = _load_tf(bag, False)
    counts = {'images_total': 0, 'skipped_every': 0, 'dropped_out_of_range': 0,
              'dropped_outside_window': 0, 'bad_images': 0, 'stamps_from_log_time': 0}
    if depth is not None:
        counts['dropped_no_depth'] = 0
    reasons: List[str] = []
    mounts: Dict[Tuple[str, str], Optional[np.ndarray]] = {}
    written: List[int] = []
    index_in_window = -1
    metadata = {'source': 'pose-reloc extract', 'bag': str(bag.path), 'image_topic': image_topic,
                'gt_source': report['gt_source']}
    writer_type = UnposedFolderWriter if unposed else PosedFolderWriter
    with writer_type(out, camera, scene_name=scene_name, metadata=metadata) as writer:
        for m in tqdm(bag.messages([image_topic]), total=bag.count([image_topic]),
                      desc=f'extracting {image_topic}', unit='img', disable=not progress):
            counts['images_total'] += 1
            stamp = stamp_to_ns(m.msg.header.stamp)
            if stamp == 0:
                stamp = m.log_time_ns
                counts['stamps_from_log_time'] += 1
            if ((start_ns is not None and m.log_time_ns < start_ns)
                    or (end_ns is not None and m.log_time_ns >= end_ns)):
                counts['dropped_outside_window'] += 1
                continue
            index_in_window += 1
            if index_in_window % every:
                counts['skipped_every'] += 1
                continue
            where = describe_message(image_topic, counts['images_total'] - 1, stamp)
            try:
                image = any_image_to_rgb(m.msg)
            except ImageDecodeError as exc:
                if exc.unsupported:
                    raise ValueError(f'{where} in {bag.path}: {exc}') from None
                counts['bad_images'] += 1
                if len(reasons) < MAX_REASONS:
                    reasons.append(f'{where}: {exc}')
                continue
            image_frame = m.msg.header.frame_id.lstrip('/')
            target = body or image_frame
            if buffer is not None and not target:
                raise ValueError(f'{image_topic} has no header.frame_id; give tf_child')
            T_world_cam = None
            if not unposed:
                T_parent_body = _gt_at(gt, buffer, parent, target, stamp)
                if T_parent_body is None:
                    counts['dropped_out_of_range'] += 1
                    continue
                key = (target, image_frame)
                if key not in mounts:
                    mounts[key] = _mounting(mount_buffer, target, image_frame)
                    report['camera_mount'] = _describe_mount(target, image_frame, mounts[key])
                T_world_cam = T_parent_body if mounts[key] is None \
                    else T_parent_body @ mounts[key]
            if image.shape[:2] != (camera.height, camera.width):
                raise ValueError(f'{where}: the image is {image.shape[1]}x{image.shape[0]} '
                                 f'but the intrinsics ({report["camera_source"]}) are '
                                 f'{camera.width}x{camera.height}')
            depth_m = None
            if depth is not None:
                depth_m = depth.at(stamp, image.shape[:2], where)
                if depth_m is None:
                    counts['dropped_no_depth'] += 1
                    continue
            writer.add(stamp, T_world_cam, image, depth_m, split=split)
            written.append(stamp)
        if not written:
            raise ValueError(_nothing_written(image_topic, bag, counts, reasons))
    report.update(counts)
    report.update(frames_written=len(written), bad_image_reasons=reasons, split=split,
                  stamp_source='header' if not counts['stamps_from_log_time'] else 'header, '
                  'log time where the header stamp is 0',
                  camera={'width': camera.width, 'height': camera.height, 'fx': camera.fx,
                          'fy': camera.fy, 'cx': camera.cx, 'cy': camera.cy,
                          'distortion_model': camera.distortion_model,
                          'distortion': list(camera.distortion)},
                  time_range_s=[written[0] / 1e9, written[-1] / 1e9])
    _write_report(out, report)
    return report


class UnposedFolderWriter:
    """Write images without poses: ``<out>/rgb/<stamp_ns>.png``, ``depth/``, ``camera.yaml``.

    The same interface as ``PosedFolderWriter`` (the pose argument of :meth:`add` is
    ignored), and the same atomicity: ``<out>.partial`` is renamed to ``<out>`` only when the
    block ends without error.

    Args:
        out: output folder (must not exist).
        camera: the images' intrinsics.
        scene_name: written to ``scene.json``.
        metadata: written to ``scene.json``.
    """

    def __init__(self, out: Path, camera, scene_name: str = '', metadata: Optional[dict] = None):
        """Remember the target; the folder is created on entering the block."""
        self.out, self.camera = Path(out), camera
        self.scene = {'name': scene_name or self.out.name, 'metadata': dict(metadata or {})}
        self.partial: Optional[Path] = None

    def __enter__(self) -> 'UnposedFolderWriter':
        """Create ``<out>.partial/rgb``."""
        self.partial = _atomic_dir(self.out)
        (self.partial / 'rgb').mkdir()
        return self

    def add(self, stamp_ns: int, T_world_cam, image_rgb, depth_m=None, split: str = '') -> None:
        """Write one image (``(H, W, 3) uint8`` RGB) and its depth (metres) if given."""
        del T_world_cam, split  # unposed: no pose, no split files
        cv2.imwrite(str(self.partial / 'rgb' / f'{stamp_ns}.png'),
                    cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if depth_m is not None:
            (self.partial / 'depth').mkdir(exist_ok=True)
            millimetres = np.clip(np.round(depth_m * 1000.0), 0, 65535).astype(np.uint16)
            cv2.imwrite(str(self.partial / 'depth' / f'{stamp_ns}.png'), millimetres)

    def __exit__(self, exc_type, exc, tb) -> None:
        """Write ``camera.yaml`` and ``scene.json`` and rename, unless the block failed."""
        if exc_type is not None:
            return
        write_camera_yaml(self.partial / 'camera.yaml', self.camera, self.scene['name'])
        (self.partial / 'scene.json').write_text(json.dumps(self.scene, indent=2) + '\n')
        _finish_dir(self.partial, self.out)


class DepthStream:
    """The depth images of one topic, looked up by image stamp (``extract_bag(depth_topic=)``).

    The constructor reads the topic's header stamps and log times once; :meth:`at` decodes
    only the depth image it returns, read back by its log time, so memory stays that of one
    image.

    Args:
        bag: the open ``BagReader``.
        topic: the depth Image topic.
        tolerance_ns: largest stamp difference of a match, nanoseconds.
        progress: show a progress bar while indexing.

    Raises:
        ValueError: a missing or mistyped topic, or a topic with no message.
    """

    def __init__(self, bag: BagReader, topic: str, tolerance_ns: int, progress: bool = True):
        """Index the topic's stamps (see the class docstring)."""
        bag.require_topic(topic, ('sensor_msgs/msg/Image',))
        self.bag, self.topic, self.tolerance_ns = bag, topic, int(tolerance_ns)
        rows = [(stamp_to_ns(m.msg.header.stamp) or m.log_time_ns, m.log_time_ns)
                for m in tqdm(bag.messages([topic]), total=bag.count([topic]),
                              desc=f'indexing {topic}', unit='msg', disable=not progress)]
        if not rows:
            raise ValueError(f'depth topic {topic} in {bag.path} has no messages')
        rows.sort()
        self.stamps_ns = np.array([r[0] for r in rows], dtype=np.int64)
        self.log_ns = np.array([r[1] for r in rows], dtype=np.int64)

    def at(self, stamp_ns: int, shape_hw: Tuple[int, int], where: str) -> Optional[np.ndarray]:
        """Return the depth (H, W) float32 metres nearest to ``stamp_ns``, or None.

        Args:
            stamp_ns: the image's stamp.
            shape_hw: the image's ``(height, width)``; the depth must have it (aligned).
            where: the image's description for error messages.

        Raises:
            ValueError: a depth image of another size, or one that cannot be decoded (its
                topic, index, stamp and field named).
        """
        k = int(np.searchsorted(self.stamps_ns, stamp_ns))
        near = [i for i in (k - 1, k) if 0 <= i < len(self.stamps_ns)]
        best = min(near, key=lambda i: abs(int(self.stamps_ns[i]) - stamp_ns))
        if abs(int(self.stamps_ns[best]) - stamp_ns) > self.tolerance_ns:
            return None
        log_ns = int(self.log_ns[best])
        for m in self.bag.messages([self.topic], start_ns=log_ns, end_ns=log_ns + 1):
            if (stamp_to_ns(m.msg.header.stamp) or m.log_time_ns) != self.stamps_ns[best]:
                continue
            what = describe_message(self.topic, best, int(self.stamps_ns[best]))
            try:
                depth = depth_image_to_metres(m.msg)
            except ImageDecodeError as exc:
                raise ValueError(f'{what} in {self.bag.path}: {exc}') from None
            if depth.shape != tuple(shape_hw):
                raise ValueError(f'{what}: the depth image is {depth.shape[1]}x{depth.shape[0]}'
                                 f' but {where} is {shape_hw[1]}x{shape_hw[0]}; the depth must '
                                 'be aligned to the image (e.g. aligned_depth_to_color)')
            return depth
        return None


def _nothing_written(image_topic: str, bag: BagReader, counts: dict, reasons: list) -> str:
    """Return why no frame was written: bad images are named as such, not as missing GT."""
    if counts['bad_images'] and not counts['dropped_out_of_range']:
        return (f'no image of {image_topic} in {bag.path} could be decoded '
                f'({counts["bad_images"]} bad): {reasons[0] if reasons else ""}')
    text = f'no frame of {image_topic} in {bag.path} has ground truth ({counts})'
    if counts['bad_images']:
        text += f'; {counts["bad_images"]} images could not be decoded, e.g. {reasons[0]}'
    return text + '; check the topics, frames and --start/--end'


def _describe_mount(target: str, image_frame: str, T_body_cam: Optional[np.ndarray]) -> str:
    if T_body_cam is not None:
        return f'{target} -> {image_frame} composed from TF'
    if target and target == image_frame:
        return f'not needed: the ground truth is of the image frame {image_frame}'
    return (f'none found: the ground truth of {target or "the pose topic body"} is used as the '
            f'camera pose of {image_frame or "the images"}')


def _mounting(buffer: Optional[TfBuffer], body: str, image_frame: str) -> Optional[np.ndarray]:
    """Return the static ``T_body_cam`` when TF links the bodies, else None."""
    if buffer is None or not image_frame or body == image_frame:
        return None
    try:
        return buffer.lookup(body, image_frame, None)
    except TransformError:
        return None
