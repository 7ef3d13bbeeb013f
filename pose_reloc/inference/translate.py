# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Apply a trained CUT generator to images and to a rendered dataset (DANCE row d).

The generator (``models.cut.ResnetGenerator``, a ``cut`` bundle written by
``training.cut``) is fully convolutional: an image is brought to the scale it was trained at
(shorter side ``input.resize`` of the bundle; unchanged when 0), reflection-padded to a
multiple of 4, translated, cropped back and resized to its original size, so the translated
dataset keeps the renders' poses, depth and scene coordinates pixel for pixel.
"""

from pathlib import Path
from typing import Any, Callable, Dict, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from pose_reloc.core.bundle import load_state_strict, read_bundle
from pose_reloc.core.device import pick_device
from pose_reloc.models.cut import ARCHITECTURE, build_generator, ResnetGenerator


def load_generator(bundle: Union[str, Path], device: str = 'auto'
                   ) -> Tuple[ResnetGenerator, Dict[str, Any]]:
    """Load a ``cut`` bundle's generator (eval mode, on ``device``) and its config.

    Raises:
        BundleError: not a CUT bundle (names the file and the cause).
    """
    config, state = read_bundle(bundle, methods=['cut'], architectures=[ARCHITECTURE])
    generator = build_generator(config['architecture'])
    load_state_strict(generator, state, bundle)
    return generator.to(pick_device(device)).eval(), config


@torch.no_grad()
def translate_image(generator: ResnetGenerator, image: np.ndarray, resize: int = 0
                    ) -> np.ndarray:
    """Translate one (H, W, 3) uint8 RGB image; returns the same size and dtype."""
    h, w = image.shape[:2]
    work = image
    if resize > 0 and min(h, w) != resize:
        scale = resize / min(h, w)
        work = cv2.resize(image, (max(4, int(round(w * scale))), max(4, int(round(h * scale)))),
                          interpolation=cv2.INTER_AREA)
    device = next(generator.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(work)).permute(2, 0, 1).float()[None]
    x = (x / 127.5 - 1.0).to(device)
    hh, ww = x.shape[2:]
    pad_h, pad_w = (-hh) % 4, (-ww) % 4
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode='reflect')
    y = generator(x)[0, :, :hh, :ww]
    out = ((y.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    if out.shape[:2] != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def translator(bundle: Union[str, Path], device: str = 'auto'
               ) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``image -> translated image`` for a ``cut`` bundle."""
    generator, config = load_generator(bundle, device)
    resize = int(config['input'].get('resize', 0))
    return lambda image: translate_image(generator, image, resize)


def translate_dataset(bundle: Union[str, Path], renders: Union[str, Path],
                      out: Union[str, Path], device: str = 'auto', overwrite: bool = False,
                      progress: bool = True) -> Path:
    """Write a copy of a posed dataset with every image translated by a ``cut`` bundle.

    Labels (poses, depth, ``coords/``, splits, camera) are copied unchanged
    (``data.histmatch.restyle_dataset``).

    Returns:
        ``out``.
    """
    from pose_reloc.data.histmatch import restyle_dataset
    fn = translator(bundle, device)
    return restyle_dataset(renders, out, lambda image, path: fn(image), overwrite, progress,
                           desc='cut translate')
