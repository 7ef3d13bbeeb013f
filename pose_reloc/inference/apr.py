# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Localizer for absolute pose regression bundles (``apr`` and ``mspn``).

The image goes through the bundle's input spec (``data.transforms.InputSpec``, rebuilt from
its ``input`` section): resized and centre-cropped exactly as training validated, normalized,
and regressed in one forward pass. The covariance comes from MC dropout
(Bayesian PoseNet): the encoder runs once, the dropout + heads ``mc_samples`` times, and
the sample spread gives a 6x6 covariance (ROS order, m^2 / rad^2), scaled by the bundle's
``covariance_calibration`` (``inference.calibration``; absent = 1) and then by the
``covariance_scale`` option. MSPN picks the head of
the predicted scene (``confidence`` = its softmax probability) unless a scene is given.
A bundle with a ``discriminator`` component can refine each pose at test time
(``inference.refine``; options ``refine_iterations``, ``refine_step``, ...): the refinement
stage runs on the (MC-dropout mean) pose and keeps the covariance, which the bundle's
calibration fitted with the bundle's default refinement on.
"""

from pathlib import Path
import time
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch

from pose_reloc.core.bundle import BundleError, config_file, load_state_strict, read_bundle
from pose_reloc.core.device import pick_device
from pose_reloc.data.transforms import InputSpec
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import T_from_pos_quat
from pose_reloc.inference import register_localizer
from pose_reloc.inference.base import apply_refinement, OptionSpec, PoseEstimate, \
    scene_camera, scene_names
from pose_reloc.inference.calibration import read_calibration
from pose_reloc.inference.refine import load_refiner, REFINE_OPTIONS
from pose_reloc.models.apanet import AnchorPoseRegressor
from pose_reloc.models.apr import enable_mc_dropout, pose_mean_and_covariance, PoseRegressor
from pose_reloc.models.losses import to_quat
from pose_reloc.models.mspn import MultiScenePoseNet

ARCHITECTURES = {
    'apr': {PoseRegressor.NAME: PoseRegressor,
            AnchorPoseRegressor.NAME: AnchorPoseRegressor},  # APANet RPE (anchors inside)
    'mspn': {MultiScenePoseNet.NAME: MultiScenePoseNet},
}


def build_model_from_bundle(bundle_path: Union[str, Path], device: str = 'cpu'):
    """Read an APR/MSPN bundle and return ``(config, model)`` in eval mode on ``device``.

    Raises:
        BundleError: for pickle files, other methods/architectures or tensor mismatches.
    """
    config, state = read_bundle(bundle_path, methods=tuple(ARCHITECTURES))
    where = config_file(bundle_path)
    classes = ARCHITECTURES[config['method']]
    name = config['architecture']['name']
    if name not in classes:
        raise BundleError(f'{where}: method {config["method"]!r} expects "architecture.name" '
                          f'in {sorted(classes)}, got {name!r}')
    if config['method'] == 'mspn' and \
            config['architecture']['num_scenes'] != len(config['scenes']):
        raise BundleError(f'{where}: "scenes" lists {len(config["scenes"])} scenes, '
                          f'"architecture.num_scenes" is {config["architecture"]["num_scenes"]}')
    try:
        model = classes[name].from_architecture(config['architecture'])
    except (TypeError, ValueError) as exc:
        raise BundleError(f'{where}: "architecture" cannot rebuild {name}: {exc}') from exc
    load_state_strict(model, state, bundle_path)
    return config, model.to(device).eval()


#: the options of the APR / MSPN localizers (``load_localizer(bundle, **options)``).
APR_OPTIONS = (
    OptionSpec('mc_samples', int, None, 'MC-dropout samples for the covariance (0: none, '
               ">= 2; default: the bundle's)", minimum=0, allow_none=True),
    OptionSpec('covariance_scale', float, 1.0, 'multiply the calibrated covariance by this',
               minimum=0.0),
    OptionSpec('seed', int, 0, 'seed of the MC-dropout masks'),
) + REFINE_OPTIONS


class APRLocalizer:
    """Absolute pose regression localizer (PoseNet/MapNet and Multi-Scene PoseNet).

    Args:
        bundle_path: an ``apr`` or ``mspn`` bundle.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        mc_samples: MC-dropout samples for the covariance (default: the bundle's;
            0 = no covariance).
        covariance_scale: multiply the (calibrated) MC-dropout covariance by this.
        seed: seed of the MC-dropout masks (repeatable covariances).
        **refine_options: ``refine_iterations``, ``refine_step``, ``refine_max_translation``
            (m), ``refine_max_rotation`` (deg): see ``inference.refine.REFINE_OPTIONS``.

    Attributes:
        refiner: the refinement stage (``inference.refine.AdversarialRefiner``) or None.
    """

    options = APR_OPTIONS

    def __init__(self, bundle_path: Union[str, Path], device: str = 'auto',
                 mc_samples: Optional[int] = None, covariance_scale: float = 1.0,
                 seed: int = 0, **refine_options: Any):
        self.bundle_path = Path(bundle_path)
        self.device = pick_device(device)
        self.config, self.model = build_model_from_bundle(bundle_path, str(self.device))
        self.method: str = self.config['method']
        entries = self.config['scenes']
        self.scenes: List[str] = scene_names(self.config, bundle_path)
        self.camera: Optional[PinholeCamera] = scene_camera(self.config, bundle_path)
        self._t_mean = torch.tensor([e['translation_mean'] for e in entries],
                                    dtype=torch.float32, device=self.device)
        self._t_scale = torch.tensor([e['translation_scale'] for e in entries],
                                     dtype=torch.float32, device=self.device)
        #: the bundle's input spec: how an image becomes the network input.
        self.input_spec = InputSpec.from_bundle(self.config, bundle_path)
        self.input_hw = (self.input_spec.height, self.input_spec.width)
        default_mc = int(self.config.get('uncertainty', {}).get('mc_samples', 0))
        self.mc_samples = default_mc if mc_samples is None else int(mc_samples)
        if self.mc_samples < 0 or self.mc_samples == 1:
            raise ValueError(f'mc_samples must be 0 or >= 2, got {self.mc_samples}')
        self.covariance_scale = float(covariance_scale)
        try:
            #: the bundle's ``CovarianceCalibration`` (None = scales 1).
            self.covariance_calibration = read_calibration(self.config,
                                                           str(config_file(bundle_path)))
        except ValueError as exc:
            raise BundleError(str(exc)) from exc
        self._generator = torch.Generator(device='cpu').manual_seed(seed)
        unknown = sorted(set(refine_options) - {spec.name for spec in REFINE_OPTIONS})
        if unknown:
            raise TypeError(f'APRLocalizer got unknown option(s) {unknown}')
        self.refiner = load_refiner(bundle_path, self.config, self.device, refine_options)

    def preprocess(self, image_rgb_hw3: np.ndarray) -> torch.Tensor:
        """Turn one image into the network input: ``(1, 3, h, w)`` float32 on the device.

        ``self.input_spec.prepare``: resize, centre crop, normalize (the training
        validation path).

        Raises:
            ValueError: if the image is not ``(H, W, 3) uint8``, or too small for the crop
                once resized (another aspect ratio than the training images).
        """
        return self.input_spec.prepare(image_rgb_hw3)['image'][None].to(self.device)

    def _scene_index(self, scene: Optional[str]) -> Optional[int]:
        if scene is None:
            return None
        if scene not in self.scenes:
            raise ValueError(f'scene {scene!r} is unknown to bundle {self.bundle_path} '
                             f'(it knows {self.scenes})')
        return self.scenes.index(scene)

    def _heads(self, features: torch.Tensor, scene_idx: Optional[int]) -> Dict[str, Any]:
        if self.method == 'mspn':
            ids = None if scene_idx is None else torch.full(
                (features.shape[0],), scene_idx, dtype=torch.long, device=self.device)
            return self.model.heads(features, ids)
        out = self.model.heads(features)
        out['scene_ids'] = torch.zeros(features.shape[0], dtype=torch.long, device=self.device)
        return out

    def _to_world(self, out: Dict[str, torch.Tensor], ids: torch.Tensor):
        t = out['t'] * self._t_scale[ids, None] + self._t_mean[ids]
        return t.double().cpu().numpy(), to_quat(out['rot']).double().cpu().numpy()

    @torch.no_grad()
    def localize(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None,
                 scene: Optional[str] = None) -> PoseEstimate:
        """Regress ``T_world_cam`` of one image (see the class docstring).

        Args:
            image_rgb_hw3: ``(H, W, 3) uint8`` RGB.
            camera: unused by APR (it learned the training camera); accepted for the
                protocol.
            scene: oracle scene name (MSPN head), or None.
        """
        t0 = time.perf_counter()
        scene_idx = self._scene_index(scene)
        x = self.preprocess(image_rgb_hw3)
        t1 = time.perf_counter()
        self.model.eval()
        features = self.model.features(x)
        out = self._heads(features, scene_idx)
        ids = out['scene_ids']
        idx = int(ids[0])
        t_world, q_world = self._to_world(out, ids)
        extras: Dict[str, Any] = {}
        confidence = 1.0
        if 'logits' in out:
            probs = torch.softmax(out['logits'], dim=1)[0]
            confidence = float(probs[idx])
            extras['scene_probability'] = confidence
            extras['scene_index'] = idx
        t2 = time.perf_counter()
        covariance = None
        if self.mc_samples >= 2:
            covariance, t_world, q_world = self._mc_dropout(features, idx)
            extras['mc_samples'] = self.mc_samples
        t3 = time.perf_counter()
        T = T_from_pos_quat(t_world[0], q_world[0])
        timings = {'preprocess': (t1 - t0) * 1e3, 'network': (t2 - t1) * 1e3,
                   'mc_dropout': (t3 - t2) * 1e3, 'total': (t3 - t0) * 1e3}
        estimate = PoseEstimate(ok=True, T_world_cam=T, covariance=covariance,
                                confidence=confidence, scene=self.scenes[idx], failure=None,
                                timings_ms=timings, extras=extras)
        return apply_refinement(self.refiner, estimate, {'image': x, 'scene_index': idx})

    def _mc_dropout(self, features: torch.Tensor, idx: int):
        enable_mc_dropout(self.model)
        state = torch.get_rng_state()
        torch.manual_seed(int(torch.randint(0, 2 ** 31 - 1, (), generator=self._generator)))
        try:
            batch = features.expand(self.mc_samples, -1)
            out = self._heads(batch, idx)
            t, q = self._to_world(out, torch.full((self.mc_samples,), idx, dtype=torch.long,
                                                  device=self.device))
        finally:
            torch.set_rng_state(state)
            self.model.eval()
        stats = pose_mean_and_covariance(t, q)
        covariance = stats['covariance']
        if self.covariance_calibration is not None:
            covariance = self.covariance_calibration.apply(covariance)
        return covariance * self.covariance_scale, stats['t'][None], stats['q'][None]


def _factory(bundle_path: Union[str, Path], device: str = 'auto', **options: Any):
    return APRLocalizer(bundle_path, device=device, **options)


register_localizer('apr', _factory, APR_OPTIONS)
register_localizer('mspn', _factory, APR_OPTIONS)
