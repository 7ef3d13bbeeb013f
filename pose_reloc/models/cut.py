# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Contrastive unpaired translation (CUT): generator, discriminator, PatchNCE (DANCE's bridge).

Park, Efros, Zhang, Zhu, *Contrastive Learning for Unpaired Image-to-Image Translation*,
ECCV 2020 (taesungp/contrastive-unpaired-translation), used by DANCE to bring renders of a
point cloud to the appearance of the real camera:

- :class:`ResnetGenerator`: Johnson et al.'s ResNet generator (7x7 conv, two stride-2
  down-sampling convolutions, ``n_blocks`` residual blocks (9 in the paper), two transposed
  convolutions, 7x7 conv, tanh), instance normalization, reflection padding. Images are in
  [-1, 1]. :meth:`ResnetGenerator.encode` returns the features PatchNCE compares: the input
  pixels, the outputs of the two down-sampling convolutions, and the first and fifth
  residual blocks (the last one when there are fewer than five), CUT's ``nce_layers
  0,4,8,12,16``.
- :class:`PatchDiscriminator`: the 70x70 PatchGAN (Isola et al. 2017): 4x4 convolutions,
  ``ndf`` channels doubling over ``n_layers`` stride-2 layers, instance norm, LeakyReLU 0.2,
  one logit per patch; trained with the least-squares GAN loss (CUT's ``lsgan``).
- :class:`PatchSampleMLP`: per layer, ``num_patches`` random locations (the same for the
  query and the positive), each feature through a 2-layer MLP (``C -> 256 -> 256``, ReLU)
  and L2-normalized (CUT's ``PatchSampleF``).
- :func:`patch_nce_loss`: InfoNCE over patches (CUT Eq. 2 and 3): for each query patch the
  positive is the same location of the other image, the negatives are the other sampled
  locations of the same image; logits divided by the temperature ``tau`` (0.07), the
  positive's self-similarity entry masked on the negative side (CUT fills the diagonal with
  -10); cross-entropy with the positive as the class, averaged over patches.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
import torch.nn.functional as F

#: the architecture name of CUT generator bundles.
ARCHITECTURE = 'CUTGenerator'


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Residual block: reflection pad, 3x3 conv, norm, ReLU, reflection pad, 3x3 conv, norm."""

    def __init__(self, channels: int):
        """Build the block for ``channels`` channels."""
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels),
            nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
            _norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + body(x)``."""
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CUT's ResNet generator (see the module docstring).

    Args:
        ngf: channels of the first convolution (64 in the paper).
        n_blocks: residual blocks (9 in the paper).
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 9):
        """Build the network."""
        super().__init__()
        if ngf < 1 or n_blocks < 1:
            raise ValueError(f'ngf and n_blocks must be >= 1, got {ngf}, {n_blocks}')
        self.ngf, self.n_blocks = ngf, n_blocks
        self.stem = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), _norm(ngf),
                                  nn.ReLU(True))
        self.down1 = nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1)
        self.act1 = nn.Sequential(_norm(ngf * 2), nn.ReLU(True))
        self.down2 = nn.Conv2d(ngf * 2, ngf * 4, 3, stride=2, padding=1)
        self.act2 = nn.Sequential(_norm(ngf * 4), nn.ReLU(True))
        self.blocks = nn.ModuleList(ResnetBlock(ngf * 4) for _ in range(n_blocks))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, stride=2, padding=1, output_padding=1),
            _norm(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 3, stride=2, padding=1, output_padding=1),
            _norm(ngf), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())

    @property
    def architecture(self) -> Dict[str, Any]:
        """The bundle's ``architecture`` dict (rebuilds this network)."""
        return {'name': ARCHITECTURE, 'ngf': self.ngf, 'n_blocks': self.n_blocks}

    @property
    def nce_channels(self) -> List[int]:
        """Channels of the five PatchNCE layers (pixels, down 1, down 2, block 1, block 5)."""
        return [3, self.ngf * 2, self.ngf * 4, self.ngf * 4, self.ngf * 4]

    def _nce_blocks(self) -> Tuple[int, int]:
        return 0, min(4, self.n_blocks - 1)

    def forward(self, x_b3hw: torch.Tensor) -> torch.Tensor:
        """Translate images (B, 3, H, W) in [-1, 1] (H, W multiples of 4) to (B, 3, H, W)."""
        return self._run(x_b3hw, with_features=False)[0]

    def encode(self, x_b3hw: torch.Tensor) -> List[torch.Tensor]:
        """Return the five PatchNCE feature maps of ``x_b3hw`` (list of (B, C_l, H_l, W_l))."""
        return self._run(x_b3hw, with_features=True, decode=False)[1]

    def _run(self, x, with_features: bool, decode: bool = True):
        feats = [x] if with_features else []
        d1 = self.down1(self.stem(x))
        d2 = self.down2(self.act1(d1))
        if with_features:
            feats += [d1, d2]
        h = self.act2(d2)
        first, fifth = self._nce_blocks()
        for i, block in enumerate(self.blocks):
            h = block(h)
            if with_features and i in (first, fifth):
                feats.append(h)
                if first == fifth:
                    feats.append(h)
            if with_features and not decode and i == fifth:
                return None, feats
        return (self.decoder(h) if decode else None), feats


class PatchDiscriminator(nn.Module):
    """The PatchGAN discriminator (one logit per overlapping patch; 70x70 with 3 layers).

    Args:
        ndf: channels of the first layer (64 in the paper).
        n_layers: stride-2 layers (3 in the paper).
    """

    def __init__(self, ndf: int = 64, n_layers: int = 3):
        """Build the network."""
        super().__init__()
        self.ndf, self.n_layers = ndf, n_layers
        layers: List[nn.Module] = [nn.Conv2d(3, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride=stride, padding=1), _norm(out),
                       nn.LeakyReLU(0.2, True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    @property
    def architecture(self) -> Dict[str, Any]:
        """The bundle component's ``architecture`` dict."""
        return {'name': 'PatchDiscriminator', 'ndf': self.ndf, 'n_layers': self.n_layers}

    def forward(self, x_b3hw: torch.Tensor) -> torch.Tensor:
        """Return the patch logits (B, 1, h, w) of images in [-1, 1]."""
        return self.net(x_b3hw)


class PatchSampleMLP(nn.Module):
    """Per-layer 2-layer MLP heads and patch sampling of PatchNCE (CUT's ``PatchSampleF``).

    Args:
        channels: feature channels of each NCE layer.
        dim: MLP width and output dimension (256 in the paper).
    """

    def __init__(self, channels: Sequence[int], dim: int = 256):
        """Build one MLP per layer."""
        super().__init__()
        self.channels, self.dim = list(channels), dim
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, dim), nn.ReLU(True), nn.Linear(dim, dim))
            for c in channels)

    @property
    def architecture(self) -> Dict[str, Any]:
        """The bundle component's ``architecture`` dict."""
        return {'name': 'PatchSampleMLP', 'channels': self.channels, 'dim': self.dim}

    def forward(self, feats: Sequence[torch.Tensor], num_patches: int,
                patch_ids: Optional[Sequence[torch.Tensor]] = None,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Sample patches of each layer and embed them.

        Args:
            feats: per layer (B, C_l, H_l, W_l) features.
            num_patches: locations per layer (all when a layer has fewer).
            patch_ids: per layer (P,) int64 flat locations to reuse (the query's), or None
                to draw them.
            generator: random generator of the draws (checkpointed by the trainer).

        Returns:
            ``(embeddings, patch_ids)``: per layer (B * P, dim) L2-normalized float and the
            (P,) locations used.
        """
        out, ids_out = [], []
        for layer, (feat, mlp) in enumerate(zip(feats, self.mlps)):
            b, c, h, w = feat.shape
            flat = feat.permute(0, 2, 3, 1).reshape(b, h * w, c)
            if patch_ids is not None:
                ids = patch_ids[layer]
            else:
                ids = torch.randperm(h * w, generator=generator)[:min(num_patches, h * w)]
                ids = ids.to(feat.device)
            x = flat[:, ids, :].reshape(-1, c)
            out.append(F.normalize(mlp(x), dim=1))
            ids_out.append(ids)
        return out, ids_out


def patch_nce_loss(query_nd: torch.Tensor, positive_nd: torch.Tensor, batch_size: int,
                   tau: float = 0.07) -> torch.Tensor:
    """Return the PatchNCE loss of one layer (CUT Eq. 2-3; see the module docstring).

    Args:
        query_nd: (B * P, D) L2-normalized embeddings of the output image's patches.
        positive_nd: (B * P, D) embeddings of the input image's patches at the same
            locations (the positives; the other P - 1 locations of the same image are the
            negatives). Gradients do not flow into them (CUT detaches the keys).
        batch_size: B.
        tau: temperature.

    Returns:
        Scalar mean cross-entropy over the B * P patches.
    """
    n, d = query_nd.shape
    if positive_nd.shape != (n, d) or n % batch_size:
        raise ValueError(f'query {tuple(query_nd.shape)} and positive '
                         f'{tuple(positive_nd.shape)} must be (B * P, D) with B={batch_size}')
    positive_nd = positive_nd.detach()
    p = n // batch_size
    l_pos = (query_nd * positive_nd).sum(dim=1, keepdim=True)                  # (B*P, 1)
    q = query_nd.view(batch_size, p, d)
    k = positive_nd.view(batch_size, p, d)
    l_neg = torch.bmm(q, k.transpose(1, 2))                                      # (B, P, P)
    eye = torch.eye(p, dtype=torch.bool, device=query_nd.device)[None]
    l_neg = l_neg.masked_fill(eye, -10.0).view(-1, p)
    logits = torch.cat([l_pos, l_neg], dim=1) / tau
    target = torch.zeros(n, dtype=torch.long, device=query_nd.device)
    return F.cross_entropy(logits, target)


def lsgan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al. 2017; CUT's ``lsgan``): ``mean((D - y)^2)``."""
    return F.mse_loss(logits, torch.full_like(logits, 1.0 if real else 0.0))


def build_generator(architecture: Dict[str, Any]) -> ResnetGenerator:
    """Rebuild a generator from its bundle ``architecture`` dict (``ValueError`` if foreign)."""
    if architecture.get('name') != ARCHITECTURE:
        raise ValueError(f'not a CUT generator architecture: {architecture}')
    return ResnetGenerator(int(architecture['ngf']), int(architecture['n_blocks']))


def _register_schema():
    from pose_reloc.core.bundle import register_schema
    register_schema(ARCHITECTURE, ['cut'], {
        'architecture': ({'ngf': ('pos_int', True), 'n_blocks': ('pos_int', True)}, True),
        'input': ({'mean': (('numbers', 3), True), 'std': (('pos_numbers', 3), True)}, True),
    })


_register_schema()
