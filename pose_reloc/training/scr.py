# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Training of the scene coordinate regressor (``pose-reloc train --method scr``).

Targets: for every output cell of the stride-8 net, the world point seen at the cell centre
(``models.scr.cell_centres``: pixel ``8j + 3.5`` in OpenCV's convention), back-projected
from the mean of the 2x2 depth pixels around that centre (``backproject`` undistorts, so
distorted cameras are exact) and moved to the world by the ground-truth ``T_world_cam``. A cell
is invalid (masked) when any of the four depths is missing or they spread by more than
``model.max_depth_spread`` of their mean (a depth edge).

Stage 1 (DANCE): mean Euclidean distance between predicted and target coordinates over the
valid cells. Stage 2 (optional, ``model.reproj_epochs > 0``, DSAC++ style): reprojection
error of the predicted coordinates under the ground-truth pose, soft-clamped
(``e`` below ``reproj_soft_clamp_px``, ``sqrt(tau * e)`` above); cells whose prediction is
behind the camera (``z < min_depth_m``) or reprojects further than ``reproj_max_px`` fall
back to the 3-D distance to the depth target, or, without depth, to the point at the scene's
median depth on the cell's ray. Stage 2 thus also trains cells without depth.

Data go through the package's one input pipeline (``data.transforms``) as the run's
``InputSpec`` says (``crop='none'``, ``multiple=8``; the bundle's ``input`` section): every
image is resized so that its shorter side is ``data.resize`` pixels (aspect kept, both sides
rounded to multiples of 8) with its camera (``PinholeCamera.resized``) and depth; training
takes random ``data.height x data.width`` crops (the camera follows with ``cropped``) and
photometric jitter; validation and inference use the whole resized image. ``data.resize: 0``
resizes straight to ``data.width x data.height`` without crops. The optimizer, progress,
checkpoints, resume and CSV log are the shared loop's (``training.loop.fit``); the result is an
``scr`` model bundle.
"""

import dataclasses
from dataclasses import dataclass
import logging
from pathlib import Path
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from pose_reloc.core.bundle import load_state_strict, read_bundle, save_bundle
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.core.files import json_ready
from pose_reloc.core.util import evenly_spaced
from pose_reloc.data.torch_dataset import FrameCache
from pose_reloc.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InputSpec, Resize
from pose_reloc.geometry.camera import camera_to_ros_yaml, PinholeCamera
from pose_reloc.geometry.metrics import rotation_error_deg, translation_error_m
from pose_reloc.geometry.pnp import PnPConfig
from pose_reloc.models.keypoints import FeatureConfig
from pose_reloc.models.scr import cell_centres, localize_coords, OUTPUT_STRIDE, SCRNet
from pose_reloc.training.config import register_model_config, require_one_scene, \
    TrainConfig
from pose_reloc.training.loop import fit, make_loader, work_dir_for
from pose_reloc.training.registry import register_trainer

LOG = logging.getLogger(__name__)

#: the ``model.regressor`` choices.
REGRESSORS = ('dense', 'keypoints')


@dataclass(frozen=True)
class SCRModelConfig:
    """The ``model:`` section of ``scr`` presets.

    Attributes:
        regressor: ``dense`` (``SCRNet``: a fully convolutional net on a stride-8 grid, trained
            by gradient descent; DANCE) or ``keypoints`` (the scene coordinate map of
            ``models.keypoints``: RootSIFT keypoints regressed to world points by nearest
            neighbour, mapped from depth or by triangulation in seconds;
            ``training.scr_keypoints``).
        trunk: ``resnet18`` (DANCE), ``resnet18_layer2`` or ``lite`` (CPU), see ``models.scr``.
        head_channels: channels of the first two head convolutions.
        pretrained: optional ``.safetensors`` file of torchvision ResNet-18 weights ('' = none).
        max_depth_spread: a target cell is invalid when its 2x2 depths spread by more than this
            fraction of their mean.
        reproj_epochs: epochs of the second, reprojection-loss stage (0 = off).
        reproj_soft_clamp_px: reprojection errors above this grow as ``sqrt`` (DSAC++).
        reproj_max_px: reprojection errors above this use the 3-D fallback loss instead.
        min_depth_m: predictions closer than this to the camera plane use the fallback.
        pnp_threshold_px: PnP-RANSAC inlier threshold at the network resolution, pixels.
        pnp_min_inliers: PnP failure threshold (inliers).
        pnp_min_inlier_ratio: PnP failure threshold (inlier ratio).
        pnp_ransac: RANSAC flavour (``geometry.pnp.RANSAC_FLAVOURS``).
        pnp_iterations: RANSAC iterations.
        mean_frames: at most this many training frames estimate the scene mean coordinate
            (0 = all).
        max_keypoints: keypoints: at most this many SIFT keypoints per image.
        contrast_threshold: keypoints: SIFT's contrast threshold.
        feature_short_side: keypoints: images are resized to this shorter side before
            detection (0 = native).
        match_ratio: keypoints: Lowe's ratio test, for mapping and localization.
        match_checks: keypoints: FLANN leaf checks per query at localization (speed /
            accuracy).
        pairs_per_frame: keypoints without depth: partner frames matched per frame.
        min_baseline_m: keypoints without depth: partners are at least this far apart.
        max_view_angle_deg: keypoints without depth: partners' optical axes differ by at most
            this angle.
        epipolar_px: keypoints without depth: Sampson distance threshold of a match, pixels.
        triangulation_px: keypoints without depth: reprojection threshold of a triangulated
            point in every view that supports it, pixels.
        min_triangulation_deg: keypoints without depth: minimum angle between the two rays of
            a pairwise match.
        min_views: keypoints without depth: views (its own included) that must support a
            point.
        min_track_angle_deg: keypoints without depth: the widest angle between a point's rays
            must reach this (depth precision).
    """

    regressor: str = 'dense'
    trunk: str = 'resnet18'
    head_channels: Tuple[int, int] = (256, 128)
    pretrained: str = ''
    max_depth_spread: float = 0.1
    reproj_epochs: int = 0
    reproj_soft_clamp_px: float = 10.0
    reproj_max_px: float = 100.0
    min_depth_m: float = 0.1
    # PnP defaults are PnPConfig's (chosen with benchmarks/bench_pnp.py).
    pnp_threshold_px: float = PnPConfig.reprojection_threshold_px
    pnp_min_inliers: int = PnPConfig.min_inliers
    pnp_min_inlier_ratio: float = PnPConfig.min_inlier_ratio
    pnp_ransac: str = PnPConfig.ransac
    pnp_iterations: int = PnPConfig.iterations
    mean_frames: int = 200
    max_keypoints: int = 1000
    contrast_threshold: float = 0.02
    feature_short_side: int = 240
    match_ratio: float = 0.9
    match_checks: int = 32
    pairs_per_frame: int = 10
    min_baseline_m: float = 0.15
    max_view_angle_deg: float = 45.0
    epipolar_px: float = 2.0
    triangulation_px: float = 2.0
    min_triangulation_deg: float = 2.0
    min_views: int = 3
    min_track_angle_deg: float = 5.0

    def __post_init__(self):
        """Validate the choices (raises ``ValueError`` naming the field)."""
        if self.regressor not in REGRESSORS:
            raise ValueError(f'model.regressor={self.regressor!r}; expected one of '
                             f'{REGRESSORS}')
        if not 0.0 < self.match_ratio <= 1.0:
            raise ValueError(f'model.match_ratio must be in (0, 1], got {self.match_ratio}')
        if self.min_views < 2:
            raise ValueError(f'model.min_views must be >= 2, got {self.min_views}')
        if self.pairs_per_frame < 1:
            raise ValueError(f'model.pairs_per_frame must be >= 1, got {self.pairs_per_frame}')

    def feature_config(self) -> FeatureConfig:
        """Return the local feature settings of the ``keypoints`` regressor."""
        return FeatureConfig(max_keypoints=self.max_keypoints,
                             contrast_threshold=self.contrast_threshold,
                             short_side=self.feature_short_side)

    def pnp_config(self) -> PnPConfig:
        """Return the ``PnPConfig`` these settings describe (validation, bundle default)."""
        return PnPConfig(ransac=self.pnp_ransac, reprojection_threshold_px=self.pnp_threshold_px,
                         iterations=self.pnp_iterations, min_inliers=self.pnp_min_inliers,
                         min_inlier_ratio=self.pnp_min_inlier_ratio)


register_model_config('scr', SCRModelConfig)


def scene_coordinate_targets(depth_hw: np.ndarray, camera: PinholeCamera,
                             T_world_cam: np.ndarray, max_depth_spread: float = 0.1
                             ) -> np.ndarray:
    """Ground-truth scene coordinates at the centres of the stride-8 output cells.

    Args:
        depth_hw: (H, W) z-depth, metres, 0 / NaN invalid; H and W multiples of 8.
        camera: the camera of ``depth_hw`` (same size).
        T_world_cam: (4, 4) camera-to-world pose.
        max_depth_spread: relative spread of the 2x2 central depths above which a cell is
            invalid.

    Returns:
        (H/8, W/8, 3) float64 world coordinates, metres, NaN for invalid cells.

    Raises:
        ValueError: if the depth size does not match the camera or is not a multiple of 8.
    """
    depth = np.asarray(depth_hw, dtype=np.float64)
    height, width = depth.shape
    if (height, width) != (camera.height, camera.width):
        raise ValueError(f'depth shape {depth.shape} does not match the camera '
                         f'{camera.width}x{camera.height}')
    if height % OUTPUT_STRIDE or width % OUTPUT_STRIDE:
        raise ValueError(f'depth size {width}x{height} is not a multiple of {OUTPUT_STRIDE}')
    half = OUTPUT_STRIDE // 2
    quad = np.stack([depth[half - 1::OUTPUT_STRIDE, half - 1::OUTPUT_STRIDE],
                     depth[half - 1::OUTPUT_STRIDE, half::OUTPUT_STRIDE],
                     depth[half::OUTPUT_STRIDE, half - 1::OUTPUT_STRIDE],
                     depth[half::OUTPUT_STRIDE, half::OUTPUT_STRIDE]])
    with np.errstate(invalid='ignore'):
        finite = np.all(np.isfinite(quad) & (quad > 0), axis=0)
        mean = quad.mean(axis=0)
        valid = finite & (quad.max(axis=0) - quad.min(axis=0) <= max_depth_spread * mean)
    uv = cell_centres(height // OUTPUT_STRIDE, width // OUTPUT_STRIDE)
    points_cam = camera.backproject(uv, np.where(valid, mean, np.nan))
    T = np.asarray(T_world_cam, dtype=np.float64)
    return points_cam @ T[:3, :3].T + T[:3, 3]


class SCRFrames(Dataset):
    """Frames as SCR training samples (images, target coordinates, cameras), cached in RAM.

    Images take the input pipeline's path of ``spec``: resized once with camera and depth
    (``data.torch_dataset.FrameCache``), then for training a random crop and jitter, else the
    whole resized image (the localizer's path), and the normalized tensor.

    Each item is a dict: ``image`` (3, h, w) float32 normalized, ``coords`` (3, h/8, w/8)
    float32 target world coordinates (0 where invalid), ``valid`` (h/8, w/8) bool,
    ``uv`` (h/8, w/8, 2) float32 cell centres in ideal (undistorted) pixels, ``K`` (3, 3)
    float32, ``T_world_cam`` (4, 4) float32, ``index`` int.

    Args:
        frames: ``data.records.Frame`` list, all with depth.
        spec: the input spec (``crop='none'``, sides multiples of 8).
        train: random crops and jitter (True) or the deterministic path (False).
        crop_hw: ``(height, width)`` of the random training crop (multiples of 8 that fit in
            the resized images), or None for the whole image.
        jitter: ``(brightness, contrast, saturation, hue)`` amounts (training only).
        max_depth_spread: see ``scene_coordinate_targets``.

    Raises:
        ValueError: a crop that does not fit or is not a multiple of 8; a frame without depth.
    """

    def __init__(self, frames: Sequence[Any], spec: InputSpec, train: bool = False,
                 crop_hw: Optional[Tuple[int, int]] = None,
                 jitter: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                 max_depth_spread: float = 0.1):
        """Store the settings; frames are loaded on first access."""
        self.frames = list(frames)
        if crop_hw is not None and (crop_hw[0] > spec.height or crop_hw[1] > spec.width
                                    or crop_hw[0] % OUTPUT_STRIDE or crop_hw[1] % OUTPUT_STRIDE):
            raise ValueError(f'crop {crop_hw[1]}x{crop_hw[0]} must fit in the resized '
                             f'{spec.width}x{spec.height} image and be a multiple of '
                             f'{OUTPUT_STRIDE}')
        self.cropped = train and crop_hw is not None
        self.transform = spec.train_steps(crop_hw, jitter) if train else spec.eval_steps()
        self.max_depth_spread = max_depth_spread
        self.cache = FrameCache(self.frames, Resize(spec), with_depth=True)
        #: uncropped samples' ``(coords, valid, uv_ideal)``, computed once (validation).
        self._targets: Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        """Return the number of frames."""
        return len(self.frames)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray, PinholeCamera]:
        """Resized ``(image (h, w, 3) uint8, depth (h, w) float32, camera)``, cached."""
        sample = self.cache[index]
        return sample['image'], sample['depth'], sample['camera']

    def __getitem__(self, index: int) -> Dict[str, Any]:
        """One sample (see the class docstring); random crop and jitter when training."""
        sample = self.transform(self.cache[index])
        depth, camera = sample['depth'], sample['camera']
        T_world_cam = np.asarray(self.frames[index].T_world_cam, dtype=np.float64)
        if index in self._targets:
            coords, valid, uv_ideal = self._targets[index]
        else:
            coords = scene_coordinate_targets(depth, camera, T_world_cam, self.max_depth_spread)
            valid = np.all(np.isfinite(coords), axis=-1)
            uv = cell_centres(*coords.shape[:2])
            uv_ideal = camera.undistort_points(uv) if camera.is_distorted else uv
            if not self.cropped:
                self._targets[index] = coords, valid, uv_ideal
        return {
            'image': sample['image'],
            'coords': torch.from_numpy(np.where(valid[..., None], coords, 0.0)
                                       .transpose(2, 0, 1).astype(np.float32)),
            'valid': torch.from_numpy(valid),
            'uv': torch.from_numpy(uv_ideal.astype(np.float32)),
            'K': torch.from_numpy(camera.K.astype(np.float32)),
            'T_world_cam': torch.from_numpy(T_world_cam.astype(np.float32)),
            'index': index,
        }


def coordinate_loss(coords_b3hw: torch.Tensor, target_b3hw: torch.Tensor,
                    valid_bhw: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance (metres) between predicted and target coordinates on valid cells.

    Returns a zero that keeps the graph when no cell is valid.
    """
    err = torch.linalg.norm(coords_b3hw - target_b3hw, dim=1)
    if not bool(valid_bhw.any()):
        return coords_b3hw.sum() * 0.0
    return err[valid_bhw].mean()


def reprojection_loss(coords_b3hw: torch.Tensor, batch: Dict[str, torch.Tensor],
                      cfg: SCRModelConfig, heuristic_depth_m: float
                      ) -> Tuple[torch.Tensor, Dict[str, float]]:
    """DSAC++-style reprojection loss under the ground-truth pose (see the module docstring).

    Args:
        coords_b3hw: predicted world coordinates.
        batch: a collated ``SCRFrames`` batch on the same device.
        cfg: the model config (thresholds).
        heuristic_depth_m: depth of the fallback target of cells without depth.

    Returns:
        ``(loss, logs)`` with ``logs['reproj_valid']`` the fraction of cells in the
        reprojection regime.
    """
    T = batch['T_world_cam']
    R_world_cam, t_world_cam = T[:, :3, :3], T[:, :3, 3]
    points_world = coords_b3hw.flatten(2)                       # (B, 3, N)
    points_cam = R_world_cam.transpose(1, 2) @ (points_world - t_world_cam[..., None])
    z = points_cam[:, 2]
    projected = batch['K'] @ points_cam
    uv_pred = projected[:, :2] / z.clamp(min=1e-6).unsqueeze(1)
    uv_true = batch['uv'].flatten(1, 2).transpose(1, 2)         # (B, 2, N)
    err = torch.linalg.norm(uv_pred - uv_true, dim=1)
    tau = cfg.reproj_soft_clamp_px
    robust = torch.where(err < tau, err, torch.sqrt(tau * err.clamp(min=tau)))
    ok = (z > cfg.min_depth_m) & (err < cfg.reproj_max_px)
    K_inv = torch.linalg.inv(batch['K'])
    ones = torch.ones_like(uv_true[:, :1])
    rays = K_inv @ torch.cat([uv_true, ones], dim=1)            # (B, 3, N), z = 1
    heuristic = R_world_cam @ (rays * heuristic_depth_m) + t_world_cam[..., None]
    valid = batch['valid'].flatten(1)
    target = torch.where(valid.unsqueeze(1), batch['coords'].flatten(2), heuristic)
    fallback = torch.linalg.norm(points_world - target, dim=1)
    loss = torch.where(ok, robust, fallback).mean()
    return loss, {'reproj_valid': float(ok.float().mean())}


def scene_statistics(dataset: SCRFrames, max_frames: int) -> Tuple[np.ndarray, float]:
    """Mean scene coordinate (3,) and median depth (m) over at most ``max_frames`` frames."""
    points, depths = [], []
    for index in evenly_spaced(range(len(dataset)), max_frames):
        _, depth, camera = dataset.load(index)
        if depth is None:
            raise ValueError(f'{dataset.frames[index].image_path}: SCR training needs depth')
        coords = scene_coordinate_targets(depth, camera, dataset.frames[index].T_world_cam,
                                          dataset.max_depth_spread)
        coords = coords[np.all(np.isfinite(coords), axis=-1)]
        points.append(coords)
        valid_depth = depth[(depth > 0) & np.isfinite(depth)]
        if valid_depth.size:
            depths.append(np.median(valid_depth))
    points = np.concatenate(points) if points else np.zeros((0, 3))
    if len(points) == 0:
        raise ValueError('no valid depth in the training frames: cannot train SCR')
    return points.mean(axis=0), float(np.median(depths))


def _make_val_fn(dataset: Optional[SCRFrames], pnp_cfg: PnPConfig):
    if dataset is None or len(dataset) == 0:
        return None

    def val_fn(model, device) -> Dict[str, float]:
        coord_err, t_err, r_err, fails = [], [], [], 0
        for index in range(len(dataset)):
            sample = dataset[index]
            pred = model(sample['image'][None].to(device))[0].cpu().numpy()
            valid = sample['valid'].numpy()
            if valid.any():
                diff = pred - sample['coords'].numpy()
                coord_err.append(np.median(np.linalg.norm(diff, axis=0)[valid]))
            _, _, camera = dataset.load(index)
            result, _ = localize_coords(pred, camera, pnp_cfg)
            if not result.ok:
                fails += 1
                continue
            T_gt = dataset.frames[index].T_world_cam
            t_err.append(translation_error_m(result.T_world_cam, T_gt))
            r_err.append(rotation_error_deg(result.T_world_cam, T_gt))
        return {'coord_error_m': float(np.median(coord_err)) if coord_err else float('nan'),
                'median_translation_m': float(np.median(t_err)) if t_err else float('nan'),
                'median_rotation_deg': float(np.median(r_err)) if r_err else float('nan'),
                'failure_rate': fails / len(dataset)}
    return val_fn


def _select_scene(data_root: Path, cfg: TrainConfig):
    from pose_reloc.data.formats import load_dataset
    scenes = load_dataset(data_root)
    if cfg.data.scenes:
        scenes = [s for s in scenes if s.name in cfg.data.scenes]
    require_one_scene('scr', data_root, [s.name for s in scenes])
    return scenes[0]


def _frames_with_depth(frames: List[Any], what: str, data_root: Path) -> List[Any]:
    missing = [f for f in frames if f.depth_path is None]
    if missing:
        raise ValueError(f'{data_root}: {len(missing)} of {len(frames)} {what} frames have no '
                         f'depth (first: {missing[0].image_path}); the dense SCR regressor '
                         'trains from depth: map from RGB + poses with '
                         '--set model.regressor=keypoints (the scr-cpu preset)')
    return frames


def input_spec(data_cfg: Any, camera: PinholeCamera
               ) -> Tuple[InputSpec, Optional[Tuple[int, int]]]:
    """Return the input spec of a dense SCR run and its random training crop.

    Args:
        data_cfg: the ``data`` config section (``mean`` / ``std`` default to ImageNet's).
        camera: the training camera (the spec's ``height x width`` are its resized size).

    Returns:
        ``(spec, crop_hw)``: ``crop='none'``, sides multiples of 8; ``crop_hw`` is
        ``(data.height, data.width)`` when ``data.resize > 0``, else None (images resized
        straight to ``data.height x data.width``, no crop).

    Raises:
        ValueError: naming the ``data`` field the spec refuses.
    """
    spec = data_cfg.input_spec(IMAGENET_MEAN, IMAGENET_STD, multiple=OUTPUT_STRIDE, crop='none')
    if data_cfg.resize <= 0:
        return spec, None
    width, height = spec.resized_size(camera.width, camera.height)
    return dataclasses.replace(spec, height=height, width=width), \
        (data_cfg.height, data_cfg.width)


def train(cfg: TrainConfig, data_root: Path, out_bundle: Path, resume: bool = False,
          init_bundle: Optional[Path] = None) -> Path:
    """Train an SCR model on one scene and write its bundle.

    Args:
        cfg: a ``TrainConfig`` whose ``model`` is ``SCRModelConfig``.
        data_root: a dataset with depth (posed folder, 7-Scenes, ...) holding one scene (or
            pick it with ``data.scenes``).
        out_bundle: bundle directory to write; the run's checkpoints and CSV logs go to
            ``<out_bundle>.work/{coords,reproj}/``.
        resume: continue from those checkpoints.
        init_bundle: start from the weights of an ``scr`` bundle of the same architecture.

    Returns:
        The bundle path.

    Raises:
        ValueError: for a multi-scene root without a choice, frames without depth, bad sizes.
    """
    model_cfg: SCRModelConfig = cfg.model
    data_root, out_bundle = Path(data_root), Path(out_bundle)
    t_start = time.monotonic()
    seed_everything(cfg.run.seed)
    device = pick_device(cfg.run.device)
    scene = _select_scene(data_root, cfg)
    if not scene.split(cfg.data.train_split):
        raise ValueError(f'{data_root}: scene {scene.name!r} has no {cfg.data.train_split!r} '
                         'frames')
    if model_cfg.regressor == 'keypoints':
        return _train_keypoints(cfg, scene, data_root, out_bundle)
    train_frames = _frames_with_depth(scene.split(cfg.data.train_split), 'training', data_root)
    if not cfg.data.use_depth:
        raise ValueError('the dense SCR regressor trains from depth; without depth map with '
                         '--set model.regressor=keypoints (the scr-cpu preset)')
    camera = train_frames[0].camera
    spec, crop_hw = input_spec(cfg.data, camera)
    train_set = SCRFrames(train_frames, spec, train=True, crop_hw=crop_hw,
                          jitter=cfg.data.jitter(), max_depth_spread=model_cfg.max_depth_spread)
    val_frames = [f for f in scene.split(cfg.data.val_split) if f.depth_path is not None] \
        if cfg.data.val_split else []
    val_frames = evenly_spaced(val_frames, cfg.data.val_frames)
    val_set = SCRFrames(val_frames, spec, max_depth_spread=model_cfg.max_depth_spread) \
        if val_frames else None
    coord_mean, median_depth = scene_statistics(train_set, model_cfg.mean_frames)
    LOG.info('scene %s: %d training frames at %dx%d, mean coordinate %s, median depth %.2f m',
             scene.name, len(train_frames), spec.width, spec.height, np.round(coord_mean, 3),
             median_depth)

    architecture = {'name': 'SCRNet', 'trunk': model_cfg.trunk,
                    'head_channels': list(model_cfg.head_channels)}
    model = SCRNet(model_cfg.trunk, model_cfg.head_channels, coord_mean.tolist(),
                   pretrained=model_cfg.pretrained or None)
    if init_bundle is not None:
        _, state = read_bundle(init_bundle, methods=['scr'], architectures=['SCRNet'])
        load_state_strict(model, state, init_bundle)
        model.set_coord_mean(coord_mean)
    model.to(device)
    pnp_cfg = model_cfg.pnp_config()
    val_fn = _make_val_fn(val_set, pnp_cfg)
    if cfg.data.workers > 0:
        # Worker processes start afresh every epoch: fill the RAM cache here, once, so that
        # they inherit it instead of decoding every image again each epoch.
        train_set.cache.fill(cfg.run.progress)
    loader = make_loader(train_set, cfg, train=True)

    def coord_step(net, batch, dev):
        pred = net(batch['image'].to(dev))
        loss = coordinate_loss(pred, batch['coords'].to(dev), batch['valid'].to(dev))
        return loss, {'valid_cells': float(batch['valid'].float().mean())}

    def reproj_step(net, batch, dev):
        batch = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in batch.items()}
        return reprojection_loss(net(batch['image']), batch, model_cfg, median_depth)

    work = work_dir_for(out_bundle)
    two_stage = model_cfg.reproj_epochs > 0
    total_epochs = cfg.optim.epochs + model_cfg.reproj_epochs
    stage1_cfg = cfg
    if two_stage and cfg.optim.max_minutes > 0:
        stage1_cfg = dataclasses.replace(cfg, optim=dataclasses.replace(
            cfg.optim, max_minutes=cfg.optim.max_minutes * cfg.optim.epochs / total_epochs))
    result = fit(model, loader, coord_step, stage1_cfg, work / 'coords', val_fn=val_fn,
                 resume=resume and (work / 'coords').exists(), device=device)
    history = [dict(row, stage='coords') for row in result.history]
    if two_stage:
        remaining = 0.0
        if cfg.optim.max_minutes > 0:
            remaining = max(cfg.optim.max_minutes - (time.monotonic() - t_start) / 60.0, 1e-3)
        stage2_cfg = dataclasses.replace(cfg, optim=dataclasses.replace(
            cfg.optim, epochs=model_cfg.reproj_epochs, max_minutes=remaining))
        result = fit(model, loader, reproj_step, stage2_cfg, work / 'reproj', val_fn=val_fn,
                     resume=resume and (work / 'reproj').exists(), device=device)
        history += [dict(row, stage='reproj') for row in result.history]

    meta = {
        'scenes': [{'name': scene.name, 'coord_mean': [float(x) for x in coord_mean],
                    'median_depth_m': median_depth,
                    'camera': camera_to_ros_yaml(camera, scene.name)}],
        'input': spec.to_json(),
        'output': {'stride': OUTPUT_STRIDE, 'cell_centre_px': (OUTPUT_STRIDE - 1) / 2.0},
        'pnp': dataclasses.asdict(pnp_cfg),
        'training': {'config': cfg.to_dict(), 'data_root': str(data_root),
                     'train_frames': len(train_frames), 'val_frames': len(val_frames),
                     'elapsed_s': time.monotonic() - t_start,
                     'history': json_ready(history)},
    }
    return save_bundle(out_bundle, 'scr', architecture, model.state_dict(), meta)


def _train_keypoints(cfg: TrainConfig, scene: Any, data_root: Path, out_bundle: Path) -> Path:
    """Map ``scene`` with the keypoint regressor (``training.scr_keypoints``)."""
    from pose_reloc.training import scr_keypoints
    train_frames = scene.split(cfg.data.train_split)
    use_depth = scr_keypoints.choose_depth(cfg, train_frames, data_root)
    val_frames = scene.split(cfg.data.val_split) if cfg.data.val_split else []
    val_frames = evenly_spaced(val_frames, cfg.data.val_frames)
    return scr_keypoints.train(cfg, scene, train_frames, val_frames, data_root, out_bundle,
                               use_depth)


register_trainer('scr', train)
