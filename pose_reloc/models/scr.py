# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Scene coordinate regression network (DANCE's SCR net) and its pixel grid.

``SCRNet`` maps a normalized image ``(B, 3, H, W)`` to scene coordinates ``(B, 3, H/8, W/8)``
(world frame, metres): the 3-D point seen at the centre of each 8x8 pixel cell.

Trunks:

- ``'resnet18'`` (DANCE): torchvision ResNet-18 without avgpool / fc; the first convolution of
  ``layer3`` and ``layer4`` (and their 1x1 downsample) run at stride 1 and the 3x3 convolutions
  after them are dilated (2 in layer3, 4 in layer4, torchvision's ``replace_stride_with_dilation``
  scheme, which torchvision itself only offers for bottleneck ResNets), so the receptive field is
  kept while the output stride stays 8. 512 feature channels.
- ``'resnet18_layer2'``: the same trunk truncated after ``layer2`` (stride 8 without
  dilation, 128 channels, 0.7 M parameters).
- ``'lite'`` (CPU): three stages of two 3x3 conv + BN + ReLU (the first with stride 2),
  32 / 64 / 128 channels, 0.29 M parameters: a training step 1.8x faster than
  ``resnet18_layer2`` and 14x faster than ``resnet18`` on this CPU
  (``benchmarks/bench_scr.py``, ``docs/results/scr.md``).

The head is three convolutions (3x3 + ReLU, 1x1 + ReLU, 1x1 to 3 channels); its output is the
offset from the scene's mean coordinate, a buffer ``coord_mean`` stored in the bundle, so an
untrained net predicts the scene centre and the regression target is centred.

Helpers shared by training and inference: ``cell_centres`` (pixel coordinates of the output
cells), ``network_size`` (input size for a camera: the input pipeline's
``data.transforms.shorter_side_size`` in multiples of the stride) and ``localize_coords``
(PnP-RANSAC on a predicted coordinate map).
"""

from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
import torchvision

from pose_reloc.data.transforms import shorter_side_size
from pose_reloc.geometry.pnp import PnPConfig, PnPResult, solve_pnp_ransac

#: Output stride of every SCRNet trunk (input pixels per output cell, each direction).
OUTPUT_STRIDE = 8

TRUNKS = ('resnet18', 'resnet18_layer2', 'lite')

#: channels of the three stages of the ``lite`` trunk.
LITE_CHANNELS = (32, 64, 128)


def cell_centres(height_out: int, width_out: int, stride: int = OUTPUT_STRIDE) -> np.ndarray:
    """Pixel coordinates of the centres of the output cells.

    Output cell ``(i, j)`` covers input pixels ``[stride*j, stride*j + stride - 1]`` (columns)
    and likewise rows; in OpenCV's convention (pixel centres at integers) its centre is
    ``u = stride*j + (stride - 1) / 2`` (3.5 for stride 8), not ``stride*j``.

    Args:
        height_out: rows of the output map.
        width_out: columns of the output map.
        stride: output stride.

    Returns:
        (height_out, width_out, 2) float64 ``(u, v)`` pixel coordinates.
    """
    offset = (stride - 1) / 2.0
    v, u = np.mgrid[0:height_out, 0:width_out].astype(np.float64)
    return np.stack([u * stride + offset, v * stride + offset], axis=-1)


def network_size(camera, short_side: int) -> Tuple[int, int]:
    """Return the network input size ``(width, height)`` for images of ``camera``.

    Args:
        camera: the original ``PinholeCamera``.
        short_side: target length of the shorter image side, pixels (aspect kept).

    Returns:
        ``(width, height)``, both rounded to multiples of 8 (at least 8).
    """
    return shorter_side_size(camera.width, camera.height, short_side, OUTPUT_STRIDE)


def _dilate(layer: nn.Sequential, dilation: int, first_dilation: int) -> None:
    """Turn a strided ResNet BasicBlock layer into a stride-1 dilated one, in place."""
    for index, block in enumerate(layer):
        conv1_dilation = first_dilation if index == 0 else dilation
        block.conv1.stride = (1, 1)
        block.conv1.dilation = (conv1_dilation, conv1_dilation)
        block.conv1.padding = (conv1_dilation, conv1_dilation)
        block.conv2.dilation = (dilation, dilation)
        block.conv2.padding = (dilation, dilation)
        if block.downsample is not None:
            block.downsample[0].stride = (1, 1)


def build_trunk(trunk: str) -> Tuple[nn.Sequential, int]:
    """Build a stride-8 trunk.

    Args:
        trunk: one of ``TRUNKS``.

    Returns:
        ``(module, channels)``: the trunk (input normalized ``(B, 3, H, W)``, output
        ``(B, channels, H/8, W/8)``) and its number of output channels.

    Raises:
        ValueError: for an unknown trunk name.
    """
    if trunk not in TRUNKS:
        raise ValueError(f'unknown SCR trunk {trunk!r}; expected one of {TRUNKS}')
    if trunk == 'lite':
        layers, c_in = [], 3
        for c_out in LITE_CHANNELS:
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        return nn.Sequential(*layers), LITE_CHANNELS[-1]
    resnet = torchvision.models.resnet18(weights=None)
    stem = [resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool, resnet.layer1, resnet.layer2]
    if trunk == 'resnet18_layer2':
        return nn.Sequential(*stem), 128
    _dilate(resnet.layer3, dilation=2, first_dilation=1)
    _dilate(resnet.layer4, dilation=4, first_dilation=2)
    return nn.Sequential(*stem, resnet.layer3, resnet.layer4), 512


class SCRNet(nn.Module):
    """Fully convolutional scene coordinate regressor with output stride 8.

    Args:
        trunk: ``'resnet18'`` (DANCE, dilated full ResNet-18), ``'resnet18_layer2'`` or
            ``'lite'`` (CPU); see the module docstring.
        head_channels: channels of the first two head convolutions.
        coord_mean: scene mean coordinate (x, y, z), metres, world frame.
        pretrained: optional path to a torchvision ResNet-18 state dict (``.safetensors``)
            loaded into the trunk (keys of the trunk's layers; fc is ignored).

    Shapes: ``forward(images_b3hw) -> coords_b3hw`` with ``H, W`` multiples of 8 giving
    ``(B, 3, H/8, W/8)``; other sizes give ``ceil(H/8)`` rows (cell centres then still follow
    ``cell_centres``).
    """

    output_stride = OUTPUT_STRIDE

    def __init__(self, trunk: str = 'resnet18', head_channels: Sequence[int] = (256, 128),
                 coord_mean: Sequence[float] = (0.0, 0.0, 0.0), pretrained: Optional[str] = None):
        """Build the trunk and head (see the class docstring)."""
        super().__init__()
        if len(head_channels) != 2 or min(head_channels) < 1:
            raise ValueError(f'head_channels must be two positive ints, got {head_channels}')
        if len(coord_mean) != 3:
            raise ValueError(f'coord_mean must have 3 values, got {coord_mean}')
        self.trunk_name = trunk
        self.trunk, channels = build_trunk(trunk)
        c1, c2 = (int(c) for c in head_channels)
        self.head = nn.Sequential(
            nn.Conv2d(channels, c1, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c2, 3, 1))
        self.register_buffer('coord_mean', torch.tensor(list(coord_mean), dtype=torch.float32))
        if pretrained:
            if trunk == 'lite':
                raise ValueError('the lite trunk has no pretrained weights')
            self._load_trunk(Path(pretrained))

    def _load_trunk(self, path: Path) -> None:
        from safetensors.torch import load_file
        if not path.is_file():
            raise FileNotFoundError(f'pretrained trunk weights not found: {path}')
        if path.suffix != '.safetensors':
            raise ValueError(f'pretrained trunk weights must be a .safetensors file, got {path}')
        names = ['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4']
        state = {}
        for key, tensor in load_file(str(path)).items():
            prefix = key.split('.', 1)[0]
            if prefix in names and names.index(prefix) < len(self.trunk):
                state[f'{names.index(prefix)}.{key.split(".", 1)[1]}'] = tensor
        missing, _ = self.trunk.load_state_dict(state, strict=False)
        if missing:
            raise ValueError(f'{path} lacks trunk weights {missing[:5]}')

    def set_coord_mean(self, coord_mean: Sequence[float]) -> None:
        """Set the scene mean coordinate (x, y, z), metres."""
        self.coord_mean.copy_(torch.as_tensor(list(coord_mean), dtype=torch.float32))

    def forward(self, images_b3hw: torch.Tensor) -> torch.Tensor:
        """Predict scene coordinates.

        Args:
            images_b3hw: (B, 3, H, W) float32 normalized images.

        Returns:
            (B, 3, ceil(H/8), ceil(W/8)) float32 world coordinates, metres.
        """
        if images_b3hw.ndim != 4 or images_b3hw.shape[1] != 3:
            raise ValueError(f'SCRNet expects (B, 3, H, W) images, got {tuple(images_b3hw.shape)}')
        offsets = self.head(self.trunk(images_b3hw))
        return offsets + self.coord_mean.view(1, 3, 1, 1)


def localize_coords(coords_3hw: np.ndarray, camera, pnp_cfg: PnPConfig
                    ) -> Tuple[PnPResult, np.ndarray]:
    """Run PnP-RANSAC on one predicted coordinate map.

    Args:
        coords_3hw: (3, h, w) predicted world coordinates at the cell centres of ``camera``'s
            image (h = camera.height / 8).
        camera: the ``PinholeCamera`` of the network input image.
        pnp_cfg: PnP settings.

    Returns:
        ``(PnPResult, points_world (N, 3))``.
    """
    points = coords_3hw.reshape(3, -1).T.astype(np.float64)
    uv = cell_centres(coords_3hw.shape[1], coords_3hw.shape[2]).reshape(-1, 2)
    finite = np.all(np.isfinite(points), axis=1)
    return solve_pnp_ransac(points[finite], uv[finite], camera, pnp_cfg), points[finite]
