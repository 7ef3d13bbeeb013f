# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Camera paths through synthetic scenes: smooth trajectories and random views.

A trajectory is a random walk of waypoints through free space, interpolated by a
shape-preserving cubic (PCHIP, no overshoot into walls) and resampled at a smoothly
varying walking speed on a dense 100 Hz time grid, so position and velocity are
continuous. The view heading follows the direction of travel plus a smooth look-around,
is turned away from nearby walls and furniture (a fan of horizontal rays every 0.25 s),
and is rate-limited to ``MAX_TURN_RATE_DEG_S`` by a forward-backward tracker; pitch and
roll are smooth noise (sums of random low-frequency sinusoids). ``'handheld'`` paths move
in a height band (1.0-1.8 m by default) in 6 DoF; ``'robot'`` paths keep the camera at its
mount height on a planar base, without roll. Frames are spread over a path of
``coverage`` room perimeters on the ``fps`` grid (:func:`sequence_duration_s`).

Every frame is validated: the camera keeps ``wall_margin_m`` from every wall and box, no
viewing ray meets a surface closer than ``min_view_distance_m`` and the median depth of
the view is at least ``min_median_depth_m`` (no views into a wall). A failing trajectory
is drawn again from the same generator (deterministic), up to ``max_attempts`` times.

Poses are ``T_world_cam`` (camera-to-world, OpenCV optical frame).
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy.interpolate import PchipInterpolator

from pose_reloc.data.synthetic.presets import PathConfig
from pose_reloc.data.synthetic.raycast import render
from pose_reloc.data.synthetic.scene import SyntheticScene
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import make_T

_UP = np.array([0.0, 0.0, 1.0])


def look_rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Camera rotations (OpenCV optical) in a z-up frame from yaw, pitch and roll.

    Args:
        yaw: (N,) heading of the optical axis about +z, radians (0 = +x).
        pitch: (N,) elevation of the optical axis, radians (negative looks down).
        roll: (N,) rotation about the optical axis, radians (positive turns the image
            clockwise as seen by the camera).

    Returns:
        (N, 3, 3) rotations ``R_frame_cam`` (columns: camera x right, y down, z forward).
    """
    yaw, pitch, roll = (np.atleast_1d(np.asarray(a, np.float64)) for a in (yaw, pitch, roll))
    fwd = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], -1)
    right = np.cross(fwd, _UP)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(fwd, right)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    x = c * right + s * down
    y = -s * right + c * down
    return np.stack([x, y, fwd], axis=-1)


def mount_transform(cfg: PathConfig) -> np.ndarray:
    """Camera mounting ``T_base_cam`` (4, 4): base_link (x forward, z up) to optical frame.

    The optical axis looks along base x, tilted down by ``mount_pitch_deg``; the optical
    centre sits at ``mount_xyz_m`` in base_link.
    """
    R0 = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    p = np.radians(cfg.mount_pitch_deg)
    Ry = np.array([[np.cos(p), 0.0, np.sin(p)], [0.0, 1.0, 0.0], [-np.sin(p), 0.0, np.cos(p)]])
    return make_T(Ry @ R0, np.asarray(cfg.mount_xyz_m, np.float64))


def smooth_noise(rng: np.random.Generator, times_s: np.ndarray, period_s: Tuple[float, float],
                 amplitude: float, terms: int = 3) -> np.ndarray:
    """Smooth random signal: a sum of sinusoids with random periods and phases.

    Args:
        rng: the random generator.
        times_s: (N,) sample times, seconds.
        period_s: (low, high) range of the sinusoid periods, seconds.
        amplitude: peak amplitude of the sum (the terms' amplitudes add up to it).
        terms: number of sinusoids.

    Returns:
        (N,) float64 signal in [-amplitude, amplitude].
    """
    weights = rng.uniform(0.5, 1.0, terms)
    weights *= amplitude / weights.sum()
    periods = rng.uniform(period_s[0], period_s[1], terms)
    phases = rng.uniform(0.0, 2.0 * np.pi, terms)
    t = np.asarray(times_s, np.float64)[:, None]
    return (weights * np.sin(2.0 * np.pi * t / periods + phases)).sum(axis=1)


@dataclass
class PoseCheck:
    """Validates camera poses against a scene (free space and view distance)."""

    scene: SyntheticScene
    cfg: PathConfig
    probe: PinholeCamera

    @classmethod
    def for_camera(cls, scene: SyntheticScene, cfg: PathConfig,
                   camera: PinholeCamera) -> 'PoseCheck':
        """Build a checker probing views with a 32-column version of ``camera``."""
        w = 32
        h = max(4, int(round(camera.height * w / camera.width)))
        return cls(scene, cfg, camera.resized(w, h))

    def ok(self, T_world_cam: np.ndarray) -> bool:
        """Return True when the pose keeps its margins (see the module docstring)."""
        p = self.scene.to_layout(T_world_cam[None, :3, 3])
        if self.scene.clearance(p, walkable=True)[0] < self.cfg.wall_margin_m:
            return False
        out = render(self.scene, self.probe, T_world_cam, colour=False)
        if float(out.distance.min()) < self.cfg.min_view_distance_m:
            return False
        depth = out.depth[out.depth > 0]
        if depth.size < 0.5 * out.depth.size:
            return False
        return float(np.median(depth)) >= self.cfg.min_median_depth_m


def _free_point(rng, scene: SyntheticScene, cfg: PathConfig, height: float, tries=200):
    lo, hi = scene.room_lo, scene.room_hi
    m = cfg.wall_margin_m
    for _ in range(tries):
        p = np.array([rng.uniform(lo[0] + m, hi[0] - m), rng.uniform(lo[1] + m, hi[1] - m),
                      height])
        if scene.clearance(p[None], walkable=True)[0] >= m + 0.15:
            return p
    raise ValueError(f'scene {scene.name}: found no free camera position with margin '
                     f'{m} m after {tries} tries')


def _segment_free(scene, a, b, margin):
    n = max(2, int(np.linalg.norm(b - a) / 0.1))
    pts = a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)
    return bool(scene.clearance(pts, walkable=True).min() >= margin)


def _waypoints(rng, scene: SyntheticScene, cfg: PathConfig, length_m: float):
    """Random walk of waypoints through free space (layout xy plus height)."""
    span = float(min(scene.room_hi[0] - scene.room_lo[0], scene.room_hi[1] - scene.room_lo[1]))
    step = float(np.clip(0.3 * span, 1.0, 8.0))
    n = int(np.ceil(length_m / step)) + 3
    h_lo, h_hi = cfg.height_m
    pts = [_free_point(rng, scene, cfg, rng.uniform(h_lo, h_hi))]
    heading = rng.uniform(-np.pi, np.pi)
    margin = cfg.wall_margin_m + 0.1
    for _ in range(n - 1):
        for attempt in range(40):
            turn = rng.normal(0.0, np.radians(50.0 if attempt < 20 else 120.0))
            cand_heading = heading + turn
            z = float(np.clip(pts[-1][2] + rng.normal(0.0, 0.15), h_lo, h_hi))
            cand = pts[-1] + np.array([step * np.cos(cand_heading),
                                       step * np.sin(cand_heading), 0.0])
            cand[2] = z
            if _segment_free(scene, pts[-1], cand, margin):
                heading = cand_heading
                pts.append(cand)
                break
        else:
            heading += np.pi
            pts.append(pts[-2] if len(pts) > 1 else pts[-1] + 0.01)
    return np.array(pts)


@dataclass
class Trajectory:
    """A continuous camera trajectory and its frames.

    Attributes:
        times_s: (N,) frame times from the sequence start, seconds (multiples of 1/fps).
        poses: (N, 4, 4) float64 ``T_world_cam`` at the frame times.
        T_world_layout: (4, 4) the scene's layout-to-world transform.
        dense_t: (M,) times of the dense samples (100 Hz) the trajectory is made of.
        dense_pos: (M, 3) camera positions (layout frame) at ``dense_t``, metres.
        dense_ypr: (M, 3) yaw, pitch, roll at ``dense_t``, radians (yaw unwrapped).
    """

    times_s: np.ndarray
    poses: np.ndarray
    T_world_layout: np.ndarray
    dense_t: np.ndarray
    dense_pos: np.ndarray
    dense_ypr: np.ndarray

    def pose_at(self, t_s) -> np.ndarray:
        """Camera poses (T_world_cam, (K, 4, 4)) at arbitrary times (linear in the samples)."""
        t = np.atleast_1d(np.asarray(t_s, np.float64))
        pos = np.stack([np.interp(t, self.dense_t, self.dense_pos[:, k]) for k in range(3)], 1)
        ypr = [np.interp(t, self.dense_t, self.dense_ypr[:, k]) for k in range(3)]
        return self.T_world_layout @ make_T(look_rotation(*ypr), pos)


#: rate of the dense samples a trajectory is built from, Hz.
DENSE_RATE_HZ = 100.0
#: fastest turn of the viewing direction along the path, degrees per second.
MAX_TURN_RATE_DEG_S = 60.0


def _smooth(signal, window):
    """Hanning low-pass of a 1-D signal (edges padded with the end values)."""
    kernel = np.hanning(int(window) | 1)
    pad = len(kernel) // 2
    padded = np.concatenate([np.full(pad, signal[0]), signal, np.full(pad, signal[-1])])
    return np.convolve(padded, kernel / kernel.sum(), mode='valid')


def horizontal_free_space(scene: SyntheticScene, points_layout_k3: np.ndarray,
                          angles: np.ndarray) -> np.ndarray:
    """Free distance along horizontal rays from many points (2-D slab test, vectorized).

    A box blocks when it reaches into the band from 0.8 m below to 0.3 m above the point
    (what fills the lower half of a view), flat rugs never; boxes are yawed about z, as the
    scene builder makes them.

    Args:
        scene: the scene.
        points_layout_k3: (K, 3) ray origins in the layout frame, metres.
        angles: (A,) ray headings about +z, radians (0 = +x).

    Returns:
        (K, A) float64 distances to the first wall or box, metres.
    """
    o = np.asarray(points_layout_k3, np.float64)
    d = np.stack([np.cos(angles), np.sin(angles)], 1)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / (d + 0.0)
        t = np.full((len(o), len(d)), np.inf)
        for a in range(2):
            bound = np.where(d[None, :, a] >= 0, scene.room_hi[a], scene.room_lo[a])
            t = np.minimum(t, (bound - o[:, a:a + 1]) * inv[None, :, a])
        for box in scene.boxes:
            top, bottom = box.center[2] + box.half[2], box.center[2] - box.half[2]
            z_ok = (top >= o[:, 2] - 0.8) & (bottom <= o[:, 2] + 0.3)
            if box.half[2] < 0.03 or not z_ok.any():
                continue
            R2 = box.R[:2, :2]
            o_l = (o[z_ok, :2] - box.center[:2]) @ R2
            d_l = d @ R2
            inv_l = 1.0 / (d_l + 0.0)
            t_near = np.full((len(o_l), len(d)), -np.inf)
            t_far = np.full((len(o_l), len(d)), np.inf)
            for a in range(2):
                t1 = (-box.half[a] - o_l[:, a:a + 1]) * inv_l[None, :, a]
                t2 = (box.half[a] - o_l[:, a:a + 1]) * inv_l[None, :, a]
                t_near = np.maximum(t_near, np.minimum(t1, t2))
                t_far = np.minimum(t_far, np.maximum(t1, t2))
            hit = (t_near <= t_far) & (t_near > 0.0)
            t[z_ok] = np.where(hit, np.minimum(t[z_ok], t_near), t[z_ok])
    return t


def _open_yaw(scene: SyntheticScene, cfg: PathConfig, pos, wanted, step_s=0.25):
    """Turn wanted view headings away from nearby walls and furniture.

    Every ``step_s`` a fan of 36 horizontal rays is cast from the camera position; the
    heading closest to the wanted one whose 30-degree sector is free for at least
    ``max(1.5, 1.5 * min_median_depth_m)`` metres is kept (the most open heading if none
    is). Returns (M,) unwrapped headings at the dense samples, radians.
    """
    stride = max(1, int(round(step_s * DENSE_RATE_HZ)))
    picks = np.arange(0, len(pos), stride)
    if picks[-1] != len(pos) - 1:
        picks = np.append(picks, len(pos) - 1)
    angles = np.radians(np.arange(0, 360, 10))
    need = max(1.5, 1.5 * cfg.min_median_depth_m)
    free_ka = horizontal_free_space(scene, pos[picks], angles)
    out = np.empty(len(picks))
    for j, k in enumerate(picks):
        free = free_ka[j]
        sector = np.minimum(np.minimum(free, np.roll(free, 1)), np.roll(free, -1))
        gap = np.abs((angles - wanted[k] + np.pi) % (2 * np.pi) - np.pi)
        ok = sector >= need
        best = np.argmin(np.where(ok, gap, np.inf)) if ok.any() else np.argmax(sector)
        # Keep the wanted heading itself when its sector is free (no 10-degree snapping).
        out[j] = wanted[k] if ok.any() and gap[best] <= np.radians(5.0) else angles[best]
    out = np.unwrap(out)
    # Continue the unwrapped sequence near the wanted headings (same turn count).
    out += 2 * np.pi * np.round((wanted[picks[0]] - out[0]) / (2 * np.pi))
    return np.interp(np.arange(len(pos)), picks, out)


def _follow(target, max_step):
    """Rate-limited tracking of a target angle (a person turning towards the path), smoothed.

    The tracker runs forwards and backwards in time and the two are averaged, so the turn
    is centred on the target's change instead of lagging behind it (a walker starts
    turning before reaching a wall).

    Args:
        target: (M,) unwrapped target angles, radians.
        max_step: largest change per sample, radians.

    Returns:
        (M,) angles that change at most ``max_step`` per sample, low-passed over half a
        second.
    """
    def track(values):
        out = np.empty_like(values)
        out[0] = values[0]
        for k in range(1, len(values)):
            out[k] = out[k - 1] + min(max(values[k] - out[k - 1], -max_step), max_step)
        return out

    both = 0.5 * (track(target) + track(target[::-1])[::-1])
    return _smooth(both, DENSE_RATE_HZ * 0.5)


def sequence_duration_s(scene: SyntheticScene, cfg: PathConfig, n_frames: int) -> float:
    """Duration of a sequence: long enough to cover the room and to hold the frames.

    The path length is ``coverage`` times the room perimeter, walked at ``speed_mps``;
    the frames are spread evenly over it on the camera's ``fps`` grid (so few frames are
    a subsampled video, as in 7-Scenes), never closer than ``1 / fps``.
    """
    size = scene.room_hi - scene.room_lo
    length = cfg.coverage * 2.0 * float(size[0] + size[1])
    return max(length / cfg.speed_mps, (n_frames - 1) / cfg.fps)


def trajectory(scene: SyntheticScene, cfg: PathConfig, camera: PinholeCamera, n_frames: int,
               rng: np.random.Generator, max_attempts: int = 60) -> Trajectory:
    """Draw one smooth, validated camera trajectory.

    Args:
        scene: the scene.
        cfg: path settings (style, height band, speed, fps, coverage, margins, ...).
        camera: the camera (its field of view is used to check the views).
        n_frames: number of frames.
        rng: the random generator (the same state gives the same trajectory).
        max_attempts: trajectories to draw before giving up.

    Returns:
        Trajectory (frame poses ``T_world_cam`` and the continuous path).

    Raises:
        ValueError: for bad settings, or if no valid trajectory was found.
    """
    if n_frames < 1:
        raise ValueError(f'trajectory: n_frames must be >= 1, got {n_frames}')
    if cfg.style not in ('handheld', 'robot'):
        raise ValueError(f'path style must be handheld or robot, got {cfg.style!r}')
    if cfg.fps <= 0 or cfg.speed_mps <= 0 or cfg.coverage < 0:
        raise ValueError(f'path fps and speed_mps must be > 0 and coverage >= 0, got '
                         f'{cfg.fps}, {cfg.speed_mps}, {cfg.coverage}')
    check = PoseCheck.for_camera(scene, cfg, camera)
    duration = sequence_duration_s(scene, cfg, n_frames)
    ticks = np.round(np.linspace(0.0, duration * cfg.fps, n_frames)).astype(np.int64)
    times = ticks / cfg.fps
    for _attempt in range(max_attempts):
        traj = _draw_trajectory(scene, cfg, times, rng)
        if all(check.ok(T) for T in traj.poses):
            return traj
    raise ValueError(f'scene {scene.name}: no valid {cfg.style} trajectory of {n_frames} '
                     f'frames after {max_attempts} attempts (margins too strict for the room?)')


def _draw_trajectory(scene, cfg: PathConfig, times, rng) -> Trajectory:
    # Dense samples start 1 s early so that poses just before the first frame (motion blur)
    # exist too.
    dense_t = np.arange(-1.0, times[-1] + 1.0 / DENSE_RATE_HZ, 1.0 / DENSE_RATE_HZ)
    speed = cfg.speed_mps * (1.0 + smooth_noise(rng, dense_t, (4.0, 12.0), 0.3))
    dist = np.concatenate([[0.0], np.cumsum(speed[1:] * np.diff(dense_t))])
    way = _waypoints(rng, scene, cfg, float(dist[-1]) + 1.0)
    seg = np.linalg.norm(np.diff(way[:, :2], axis=0), axis=1)
    way = way[np.concatenate([[True], seg > 1e-6])]
    chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(way, axis=0), axis=1))])
    # PCHIP: C1 and shape-preserving, so the path does not overshoot its waypoints into
    # walls or furniture the way a natural cubic spline does in tight rooms.
    spline = PchipInterpolator(chord, way)
    dense_u = np.linspace(0.0, chord[-1], max(200, int(chord[-1] / 0.01)))
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(spline(dense_u), axis=0),
                                                          axis=1))])
    start = rng.uniform(0.0, arc[-1] - dist[-1] - 0.5) if arc[-1] > dist[-1] + 0.5 else 0.0
    u = np.interp(np.minimum(start + dist, arc[-1]), arc, dense_u)
    pos = spline(u)
    vel = spline(u, 1)
    heading = np.unwrap(np.arctan2(vel[:, 1], vel[:, 0]))
    wanted = heading + smooth_noise(rng, dense_t, (5.0, 15.0), np.radians(cfg.look_around_deg))
    yaw = _follow(_open_yaw(scene, cfg, pos, wanted),
                  np.radians(MAX_TURN_RATE_DEG_S) / DENSE_RATE_HZ)
    if cfg.style == 'robot':
        pos[:, 2] = cfg.mount_xyz_m[2]
        pitch = np.full(len(dense_t), -np.radians(cfg.mount_pitch_deg))
        roll = np.zeros(len(dense_t))
    else:
        pitch = np.radians(cfg.pitch_deg[0]) + smooth_noise(rng, dense_t, (3.0, 10.0),
                                                            np.radians(cfg.pitch_deg[1]))
        roll = smooth_noise(rng, dense_t, (2.0, 6.0), np.radians(cfg.roll_deg))
        pos[:, 2] = np.clip(pos[:, 2], *cfg.height_m)
    traj = Trajectory(times, np.zeros((0, 4, 4)), scene.T_world_layout, dense_t, pos,
                      np.stack([yaw, pitch, roll], 1))
    traj.poses = traj.pose_at(times)
    return traj


def random_views(scene: SyntheticScene, cfg: PathConfig, camera: PinholeCamera, n: int,
                 rng: np.random.Generator, max_tries: int = 10000) -> np.ndarray:
    """Independent random camera poses from the distribution of the trajectories.

    Positions are uniform in free space within the height band, headings uniform,
    pitch and roll within the path settings' ranges; every pose passes the same checks
    as trajectory poses.

    Args:
        scene: the scene.
        cfg: path settings.
        camera: the camera.
        n: number of views.
        rng: the random generator.
        max_tries: candidate poses to draw before giving up.

    Returns:
        (n, 4, 4) float64 ``T_world_cam``.
    """
    check = PoseCheck.for_camera(scene, cfg, camera)
    out = []
    for _ in range(max_tries):
        if len(out) == n:
            break
        if cfg.style == 'robot':
            height, pitch, roll = cfg.mount_xyz_m[2], -np.radians(cfg.mount_pitch_deg), 0.0
        else:
            height = rng.uniform(*cfg.height_m)
            pitch = np.radians(cfg.pitch_deg[0] + rng.uniform(-1.0, 1.0) * cfg.pitch_deg[1])
            roll = np.radians(rng.uniform(-1.0, 1.0) * cfg.roll_deg)
        p = _free_point(rng, scene, cfg, height)
        R = look_rotation(rng.uniform(-np.pi, np.pi), pitch, roll)[0]
        T = scene.T_world_layout @ make_T(R, p)
        if check.ok(T):
            out.append(T)
    if len(out) < n:
        raise ValueError(f'scene {scene.name}: only {len(out)} of {n} random views passed the '
                         f'checks in {max_tries} tries')
    return np.array(out)
