# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""CUT: networks' shapes, the PatchNCE loss on known values, a tiny training run, translation."""

import math

import numpy as np
import pytest
import torch

from pose_reloc.models.cut import patch_nce_loss, PatchDiscriminator, PatchSampleMLP, \
    ResnetGenerator

torch.set_num_threads(1)


def test_shapes():
    G = ResnetGenerator(ngf=8, n_blocks=5)
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    y = G(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    feats = G.encode(x)
    assert [f.shape[1] for f in feats] == G.nce_channels == [3, 16, 32, 32, 32]
    assert [f.shape[2:] for f in feats] == [(32, 48), (16, 24), (8, 12), (8, 12), (8, 12)]
    H = PatchSampleMLP(G.nce_channels, dim=256)
    emb, ids = H(feats, 64)
    assert [e.shape for e in emb] == [(128, 256)] * 5
    assert all(torch.allclose(e.norm(dim=1), torch.ones(128)) for e in emb)
    emb2, ids2 = H(feats, 64, ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, ids2))
    D = PatchDiscriminator(ndf=8, n_layers=3)
    assert D(x).shape[:2] == (2, 1)
    # Fewer than five residual blocks: the last block stands in for the fifth.
    assert len(ResnetGenerator(ngf=4, n_blocks=2).encode(x)) == 5


def test_patch_nce_known_value_and_minimum_at_coinciding_patches():
    p, tau = 8, 0.07
    q = torch.eye(p, dtype=torch.float64)  # P orthonormal embeddings (D = P)
    loss = patch_nce_loss(q, q.clone(), batch_size=1, tau=tau)
    # logits: positive 1/tau; negatives 0 (orthogonal) except the masked diagonal -10/tau.
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + (p - 1)
                                              + math.exp(-10 / tau)))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    # Any positive that differs from the query costs more; the matching one is the minimum.
    shuffled = q[torch.roll(torch.arange(p), 1)]
    assert float(patch_nce_loss(q, shuffled, 1, tau)) > float(loss) + 10
    g = torch.Generator().manual_seed(0)
    k = torch.nn.functional.normalize(torch.randn(2 * p, 16, generator=g), dim=1)
    base = float(patch_nce_loss(k, k, 2, tau))
    for noise in (0.3, 1.0):
        noisy = torch.nn.functional.normalize(k + noise * torch.randn(2 * p, 16, generator=g),
                                              dim=1)
        assert float(patch_nce_loss(noisy, k, 2, tau)) > base
    with pytest.raises(ValueError):
        patch_nce_loss(q, q[:4], 1, tau)


def _pool(root, colour, n, seed, size=(48, 40)):
    import cv2
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:] = colour
        for _ in range(4):  # rectangles: structure that PatchNCE must keep
            x0, y0 = rng.integers(0, size[0] - 8), rng.integers(0, size[1] - 8)
            image[y0:y0 + 8, x0:x0 + 12] = 255 - np.asarray(colour)
        image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / f'{i:03d}.png'), image)
    return root


def test_tiny_cut_run_lowers_its_losses_and_translates(tmp_path):
    from pose_reloc.data.roles import parse_data_args
    from pose_reloc.inference.translate import translate_image, load_generator
    from pose_reloc.training.config import load_preset
    from pose_reloc.workflows import train_bundle
    src = _pool(tmp_path / 'renders', (40, 40, 200), 8, 0)
    tgt = _pool(tmp_path / 'photos', (200, 160, 40), 8, 1)
    cfg = load_preset('cut-cpu', ['data.resize=40', 'data.height=32', 'data.width=32',
                                  'optim.epochs=12', 'optim.batch_size=4', 'optim.lr=1e-3',
                                  'model.ngf=8', 'model.n_blocks=2', 'model.ndf=8',
                                  'model.num_patches=32', 'model.mlp_dim=32',
                                  'run.device=cpu', 'run.progress=false',
                                  'run.checkpoint_every=100'], method='cut')
    bundle = train_bundle('cut', cfg, parse_data_args([f'source={src}', f'target={tgt}']),
                          tmp_path / 'cut')
    import json
    history = json.loads((bundle / 'config.json').read_text())['training']['history']
    assert len(history) == 12
    first, last = history[0], history[-1]
    assert last['train_nce'] < first['train_nce']
    assert last['train_loss'] < first['train_loss']
    G, config = load_generator(bundle, 'cpu')
    image = np.full((40, 48, 3), (40, 40, 200), np.uint8)
    out = translate_image(G, image, config['input']['resize'])
    assert out.shape == image.shape and out.dtype == np.uint8
    # The translated render moves towards the photos' colour (red-yellow, not blue).
    assert out[..., 0].mean() > image[..., 0].mean() and out[..., 2].mean() < 200
