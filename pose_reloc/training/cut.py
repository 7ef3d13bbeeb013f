# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Training of CUT, renders -> photos (``pose-reloc train --method cut``; DANCE's translator).

Data roles: ``--data source=RENDERS --data target=PHOTOS``. Sources are the rendered images
(any dataset ``data.unlabeled.load_images`` reads; their labels are not used here), targets
the unlabeled photo pool (the split ``model.target_split`` of a dataset that has splits,
e.g. ``train`` so that test photos stay unseen; every image of a plain folder). Images are
resized to a ``data.resize`` shorter side (0: straight to ``data.width x data.height``),
randomly cropped to ``data.width x data.height``, scaled to [-1, 1]; a source and a random
target are paired per sample (unpaired training).

One step (CUT, Park et al. 2020, ``models.cut``): the generator ``G`` translates the batch of
sources ``x`` and, for the identity term, the targets ``y``; the discriminator ``D`` takes a
least-squares GAN step on ``y`` (real) and ``G(x)`` (fake, detached); then ``G`` and the
PatchNCE MLPs ``H`` take a step on

    lambda_GAN * L_GAN(G(x)) + 0.5 * (lambda_NCE * L_NCE(x, G(x)) + lambda_idt * L_NCE(y, G(y)))

(the 0.5 average of the two NCE terms is CUT's code, ``loss_NCE_both``), each ``L_NCE`` the
mean over the 5 layers of :func:`models.cut.patch_nce_loss` on ``num_patches`` locations.
Adam with CUT's betas (0.5, 0.999) and ``optim.lr`` for both; the shared loop
(:func:`training.loop.fit_multi`) checkpoints G, D, H, both optimizers and the patch
generator, and resumes. The bundle holds G (method ``cut``, architecture ``CUTGenerator``)
and D and H as components; ``inference.translate`` applies it to a rendered dataset.
"""

from dataclasses import dataclass
import logging
from pathlib import Path
import time
from typing import Any, Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pose_reloc.core.bundle import load_state_strict, read_bundle, save_bundle
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.core.files import json_ready
from pose_reloc.data.histmatch import load_pool
from pose_reloc.models.cut import lsgan_loss, patch_nce_loss, PatchDiscriminator, \
    PatchSampleMLP, ResnetGenerator
from pose_reloc.training.config import register_model_config, TrainConfig
from pose_reloc.training.loop import fit_multi, TrainState, work_dir_for
from pose_reloc.training.registry import register_trainer

LOG = logging.getLogger(__name__)

#: [-1, 1] image normalization of CUT (mean 0.5, std 0.5 on [0, 1] images).
CUT_MEAN = (0.5, 0.5, 0.5)
CUT_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class CUTModelConfig:
    """The ``model:`` section of ``cut`` presets (CUT's defaults; ``config/train/cut.yaml``).

    Attributes:
        ngf: generator width (64).
        n_blocks: generator residual blocks (9).
        ndf: discriminator width (64).
        d_layers: PatchGAN stride-2 layers (3: 70x70 patches).
        num_patches: PatchNCE locations per layer (256).
        mlp_dim: PatchNCE MLP width and embedding size (256).
        nce_tau: PatchNCE temperature (0.07).
        lambda_gan: weight of the GAN term (1).
        lambda_nce: weight of PatchNCE on the sources (1).
        lambda_identity: weight of PatchNCE on the targets (identity; 1, 0 = off: FastCUT).
        beta1: Adam beta1 (0.5).
        beta2: Adam beta2 (0.999).
        target_split: split of the photo pool when it is a dataset with splits ('' = all).
        max_images: at most this many images per role, evenly spaced (0 = all).
    """

    ngf: int = 64
    n_blocks: int = 9
    ndf: int = 64
    d_layers: int = 3
    num_patches: int = 256
    mlp_dim: int = 256
    nce_tau: float = 0.07
    lambda_gan: float = 1.0
    lambda_nce: float = 1.0
    lambda_identity: float = 1.0
    beta1: float = 0.5
    beta2: float = 0.999
    target_split: str = 'train'
    max_images: int = 0

    def __post_init__(self):
        """Validate (``ValueError`` naming the field)."""
        if self.num_patches < 1 or self.mlp_dim < 1 or self.nce_tau <= 0:
            raise ValueError('model.num_patches and model.mlp_dim must be >= 1 and '
                             f'model.nce_tau > 0, got {self.num_patches}, {self.mlp_dim}, '
                             f'{self.nce_tau}')


register_model_config('cut', CUTModelConfig)


def resize_shorter(image: np.ndarray, short: int, size: Sequence[int]) -> np.ndarray:
    """Resize ``image`` (H, W, 3) to a ``short`` shorter side (0: straight to ``size`` (w, h))."""
    h, w = image.shape[:2]
    if short <= 0:
        target = (int(size[0]), int(size[1]))
    else:
        scale = short / min(h, w)
        target = (max(int(round(w * scale)), size[0]), max(int(round(h * scale)), size[1]))
    if target == (w, h):
        return image
    return cv2.resize(image, target, interpolation=cv2.INTER_AREA)


def to_unit_range(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 127.5 - 1.0


class UnpairedImages(Dataset):
    """Source images, each paired with a random target image; random crops, RAM cache.

    Items: ``{'source': (3, h, w), 'target': (3, h, w)}`` float32 in [-1, 1].

    Args:
        sources: source image records.
        targets: target image records.
        resize: shorter side before cropping (0 = straight resize to ``crop``).
        crop: ``(width, height)``, multiples of 4.
    """

    def __init__(self, sources: Sequence[Any], targets: Sequence[Any], resize: int,
                 crop: Sequence[int]):
        """Keep the records; images load on first use."""
        if not sources or not targets:
            raise ValueError(f'CUT needs source and target images, got {len(sources)} and '
                             f'{len(targets)}')
        if crop[0] % 4 or crop[1] % 4:
            raise ValueError(f'CUT crops must be multiples of 4, got {crop[0]}x{crop[1]}')
        self.sources, self.targets = list(sources), list(targets)
        self.resize, self.crop = resize, (int(crop[0]), int(crop[1]))
        self._cache: Dict[Any, np.ndarray] = {}

    def __len__(self) -> int:
        """Return the number of source images (one epoch = every source once)."""
        return len(self.sources)

    def _load(self, key, record) -> np.ndarray:
        from pose_reloc.data.records import load_image
        if key not in self._cache:
            self._cache[key] = resize_shorter(load_image(record), self.resize, self.crop)
        return self._cache[key]

    def _crop(self, image: np.ndarray) -> torch.Tensor:
        w, h = self.crop
        y0 = int(np.random.randint(0, image.shape[0] - h + 1))
        x0 = int(np.random.randint(0, image.shape[1] - w + 1))
        return to_unit_range(image[y0:y0 + h, x0:x0 + w])

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        """Return source ``index`` and a random target, randomly cropped."""
        j = int(np.random.randint(len(self.targets)))
        return {'source': self._crop(self._load(('s', index), self.sources[index])),
                'target': self._crop(self._load(('t', j), self.targets[j]))}


def nce_loss(G: ResnetGenerator, H: PatchSampleMLP, src_b3hw: torch.Tensor,
             out_b3hw: torch.Tensor, cfg: CUTModelConfig,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Multi-layer PatchNCE between an input batch and its translation (mean over layers)."""
    feat_k = G.encode(src_b3hw)
    feat_q = G.encode(out_b3hw)
    emb_k, ids = H(feat_k, cfg.num_patches, None, generator)
    emb_q, _ = H(feat_q, cfg.num_patches, ids)
    b = src_b3hw.shape[0]
    losses = [patch_nce_loss(q, k, b, cfg.nce_tau) for q, k in zip(emb_q, emb_k)]
    return torch.stack(losses).mean()


def train(cfg: TrainConfig, data: Any, out_bundle: Path, resume: bool = False,
          init_bundle: Optional[Path] = None) -> Path:
    """Train CUT from renders (``source``) to photos (``target``) and write its bundle.

    Args:
        cfg: a ``TrainConfig`` whose ``model`` is :class:`CUTModelConfig`.
        data: ``DataRoles`` with one ``source`` and one ``target`` root.
        out_bundle: bundle directory; checkpoints and ``log.csv`` in ``<out_bundle>.work/``.
        resume: continue from the checkpoint.
        init_bundle: start from a ``cut`` bundle's generator (and its components).

    Returns:
        The bundle path.
    """
    model_cfg: CUTModelConfig = cfg.model
    out_bundle = Path(out_bundle)
    t_start = time.monotonic()
    seed_everything(cfg.run.seed)
    device = pick_device(cfg.run.device)
    source_root, target_root = Path(data.one('source')), Path(data.one('target'))
    sources = load_pool(source_root, cfg.data.train_split, model_cfg.max_images)
    targets = load_pool(target_root, model_cfg.target_split, model_cfg.max_images)
    crop = (cfg.data.width, cfg.data.height)
    dataset = UnpairedImages(sources, targets, cfg.data.resize, crop)
    LOG.info('CUT: %d source images (%s), %d target photos (%s), crops %dx%d',
             len(sources), source_root, len(targets), target_root, crop[0], crop[1])
    G = ResnetGenerator(model_cfg.ngf, model_cfg.n_blocks)
    D = PatchDiscriminator(model_cfg.ndf, model_cfg.d_layers)
    H = PatchSampleMLP(G.nce_channels, model_cfg.mlp_dim)
    if init_bundle is not None:
        from pose_reloc.core.bundle import read_component
        _, state = read_bundle(init_bundle, methods=['cut'])
        load_state_strict(G, state, init_bundle)
        load_state_strict(D, read_component(init_bundle, 'discriminator')[1], init_bundle)
        load_state_strict(H, read_component(init_bundle, 'mlps')[1], init_bundle)
    for net in (G, D, H):
        net.to(device)
    betas = (model_cfg.beta1, model_cfg.beta2)
    state = TrainState(
        modules={'generator': G, 'discriminator': D, 'mlps': H},
        optimizers={
            'discriminator': torch.optim.Adam(D.parameters(), lr=cfg.optim.lr, betas=betas,
                                              weight_decay=cfg.optim.weight_decay),
            'generator': torch.optim.Adam(list(G.parameters()) + list(H.parameters()),
                                          lr=cfg.optim.lr, betas=betas,
                                          weight_decay=cfg.optim.weight_decay)},
        generators={'patches': torch.Generator().manual_seed(cfg.run.seed)},
        extra={'lambda_gan': model_cfg.lambda_gan, 'lambda_nce': model_cfg.lambda_nce,
               'lambda_identity': model_cfg.lambda_identity})
    patches = state.generators['patches']

    def step(batch, ctx) -> Dict[str, float]:
        x = batch['source'].to(ctx.device)
        y = batch['target'].to(ctx.device)
        b = x.shape[0]
        identity = model_cfg.lambda_identity > 0
        with ctx.autocast():
            fake_all = G(torch.cat([x, y]) if identity else x)
            fake = fake_all[:b]
            loss_d = 0.5 * (lsgan_loss(D(fake.detach()), False) + lsgan_loss(D(y), True))
        ctx.update('discriminator', loss_d)
        with ctx.frozen('discriminator'), ctx.autocast():
            loss_gan = lsgan_loss(D(fake), True)
            loss_nce = nce_loss(G, H, x, fake, model_cfg, patches)
            loss_idt = nce_loss(G, H, y, fake_all[b:], model_cfg, patches) if identity \
                else torch.zeros((), device=ctx.device)
            loss_g = model_cfg.lambda_gan * loss_gan + 0.5 * (
                model_cfg.lambda_nce * loss_nce + model_cfg.lambda_identity * loss_idt)
        ctx.update('generator', loss_g)
        logs = {'loss': loss_g, 'loss_d': loss_d, 'gan': loss_gan, 'nce': loss_nce,
                'nce_identity': loss_idt}
        return {key: float(value.detach()) for key, value in logs.items()}

    loader = DataLoader(dataset, batch_size=min(cfg.optim.batch_size, len(dataset)),
                        shuffle=True, drop_last=len(dataset) > cfg.optim.batch_size,
                        num_workers=cfg.data.workers)
    result = fit_multi(state, loader, step, cfg, work_dir_for(out_bundle), resume=resume,
                       device=device)
    G.cpu(), D.cpu(), H.cpu()
    meta = {
        'scenes': [],
        'input': {'height': crop[1], 'width': crop[0], 'resize': cfg.data.resize,
                  'mean': list(CUT_MEAN), 'std': list(CUT_STD), 'range': [-1.0, 1.0]},
        'training': {'config': cfg.to_dict(), 'data': data.as_dict(),
                     'source_images': len(sources), 'target_images': len(targets),
                     'epochs_completed': result.epochs_completed,
                     'stopped_by_budget': result.stopped_by_budget,
                     'elapsed_s': time.monotonic() - t_start,
                     'history': json_ready(result.history)},
    }
    return save_bundle(out_bundle, 'cut', G.architecture, G.state_dict(), meta,
                       components={'discriminator': (D.architecture, D.state_dict()),
                                   'mlps': (H.architecture, H.state_dict())})


register_trainer('cut', train, roles=('source', 'target'), calibration_role=None)
