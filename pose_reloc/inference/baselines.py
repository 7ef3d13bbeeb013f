# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Trivial localizers that a pose regressor must beat (Sattler et al. 2019).

- :class:`MeanPoseLocalizer`: always answers the mean training pose of the scene
  (chordal mean rotation).
- :class:`RetrievalLocalizer`: answers the pose of the nearest training image by cosine
  similarity of globally pooled encoder features (an APR/MSPN bundle's encoder, or any
  backbone, e.g. ImageNet EfficientNet-Lite0).

Both follow the :class:`~pose_reloc.inference.base.Localizer` protocol, so
:func:`pose_reloc.inference.evaluate.evaluate` scores them like trained models.
"""

import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from pose_reloc.data.records import Frame, load_image
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import mean_pose as se3_mean_pose
from pose_reloc.inference.base import PoseEstimate


def mean_pose(frames: Sequence[Frame]) -> np.ndarray:
    """Mean ``T_world_cam`` (4, 4) of frames (:func:`pose_reloc.geometry.se3.mean_pose`)."""
    return se3_mean_pose(np.array([f.T_world_cam for f in frames], dtype=np.float64))


class MeanPoseLocalizer:
    """Answers each scene's mean training pose (the scene given, else the first).

    Args:
        frames_by_scene: ``{scene name: training frames}``.
    """

    method = 'mean_pose'

    def __init__(self, frames_by_scene: Dict[str, Sequence[Frame]]):
        if not frames_by_scene:
            raise ValueError('MeanPoseLocalizer needs at least one scene with frames')
        self.scenes: List[str] = list(frames_by_scene)
        self.camera: Optional[PinholeCamera] = next(iter(frames_by_scene.values()))[0].camera
        self._poses = {name: mean_pose(frames) for name, frames in frames_by_scene.items()}

    def localize(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None,
                 scene: Optional[str] = None) -> PoseEstimate:
        """Return the mean pose of ``scene`` (or of the first scene)."""
        name = scene if scene in self._poses else self.scenes[0]
        return PoseEstimate(ok=True, T_world_cam=self._poses[name].copy(), confidence=0.0,
                            scene=name, timings_ms={'total': 0.0})


class RetrievalLocalizer:
    """Nearest-neighbour image retrieval by pooled encoder features.

    Args:
        encoder: module mapping ``(B, 3, h, w)`` to ``(B, C, h', w')`` features.
        preprocess: callable ``(H, W, 3) uint8 -> (1, 3, h, w)`` tensor on the device.
        frames_by_scene: ``{scene name: database frames}`` with known poses.
        batch_size: frames per encoder batch while building the database.
        progress: show a bar while indexing.
    """

    method = 'retrieval'

    def __init__(self, encoder: torch.nn.Module, preprocess, frames_by_scene:
                 Dict[str, Sequence[Frame]], batch_size: int = 32, progress: bool = True):
        self.encoder = encoder.eval()
        self.preprocess = preprocess
        self.scenes: List[str] = list(frames_by_scene)
        self.camera = next(iter(frames_by_scene.values()))[0].camera
        frames = [(name, f) for name, fs in frames_by_scene.items() for f in fs]
        self._scene_of = [name for name, _ in frames]
        self._poses = np.array([f.T_world_cam for _, f in frames], dtype=np.float64)
        feats = []
        with torch.no_grad():
            for i in tqdm(range(0, len(frames), batch_size), desc='indexing', leave=False,
                          disable=not progress):
                x = torch.cat([self.preprocess(load_image(f)) for _, f in
                               frames[i:i + batch_size]])
                feats.append(self._describe(x))
        self._db = torch.cat(feats)

    def _describe(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.encoder(x).mean(dim=(2, 3)), dim=1)

    @torch.no_grad()
    def localize(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None,
                 scene: Optional[str] = None) -> PoseEstimate:
        """Return the pose of the most similar database image (within ``scene`` if given)."""
        t0 = time.perf_counter()
        sim = (self._db @ self._describe(self.preprocess(image_rgb_hw3)).T)[:, 0]
        if scene is not None:
            mask = torch.tensor([s == scene for s in self._scene_of], device=sim.device)
            sim = torch.where(mask, sim, torch.full_like(sim, -2.0))
        best = int(sim.argmax())
        return PoseEstimate(ok=True, T_world_cam=self._poses[best].copy(),
                            confidence=float(sim[best]), scene=self._scene_of[best],
                            timings_ms={'total': (time.perf_counter() - t0) * 1e3},
                            extras={'similarity': float(sim[best])})
