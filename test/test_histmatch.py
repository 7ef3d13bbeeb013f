# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Histogram matching of renders to a photo pool, and dataset restyling."""

import cv2
import numpy as np
import pytest

from pose_reloc.data.histmatch import cdf, histmatch_dataset, match_histograms, \
    pooled_histogram, restyle_dataset


def _image(rng, mean, spread, shape=(60, 80)):
    return np.clip(rng.normal(mean, spread, (*shape, 3)), 0, 255).astype(np.uint8)


def test_matched_channel_histograms_match_the_pooled_reference():
    rng = np.random.default_rng(0)
    pool = [_image(rng, [180, 90, 40], [20, 30, 10]), _image(rng, [120, 60, 90], [25, 10, 30])]
    reference = pooled_histogram(pool)
    render = _image(rng, [60, 200, 128], [15, 20, 40], (90, 70))
    out = match_histograms(render, reference)
    ref_cdf, out_cdf, src_cdf = cdf(reference), cdf(pooled_histogram([out])), \
        cdf(pooled_histogram([render]))
    for c in range(3):
        after = np.abs(out_cdf[c] - ref_cdf[c]).max()  # Kolmogorov-Smirnov distance
        before = np.abs(src_cdf[c] - ref_cdf[c]).max()
        assert after < 0.05 < before
    # Per-channel means and quantiles follow the pool (pooled, not either image's alone).
    pooled = np.concatenate([p.reshape(-1, 3) for p in pool])
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), pooled.mean(0), atol=3.0)
    # Monotone: the order of values within a channel is kept.
    order = np.argsort(render[..., 0].ravel(), kind='stable')
    assert np.all(np.diff(out[..., 0].ravel()[order].astype(int)) >= 0)


def test_holes_are_left_out_and_stay_black():
    rng = np.random.default_rng(1)
    reference = pooled_histogram([_image(rng, [128, 128, 128], [30, 30, 30])])
    render = _image(rng, [60, 60, 60], [10, 10, 10])
    valid = np.ones(render.shape[:2], bool)
    valid[:, :40] = False
    render[~valid] = 0
    out = match_histograms(render, reference, valid)
    assert (out[~valid] == 0).all()
    assert abs(out[valid].mean() - 128) < 5


def test_identity_when_the_reference_is_the_image():
    rng = np.random.default_rng(2)
    image = _image(rng, [100, 150, 200], [30, 30, 30])
    np.testing.assert_array_equal(match_histograms(image, pooled_histogram([image])), image)


def test_errors():
    with pytest.raises(ValueError, match='empty photo pool'):
        pooled_histogram([])
    with pytest.raises(ValueError, match='uint8'):
        match_histograms(np.zeros((4, 4, 3), np.float32), np.ones((3, 256)))


def test_histmatch_dataset_keeps_labels(tmp_path):
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.data.formats.posed_folder import PosedFolderWriter
    from pose_reloc.data.records import load_depth, load_image
    from pose_reloc.geometry.camera import PinholeCamera
    rng = np.random.default_rng(3)
    camera = PinholeCamera(32, 24, 30.0, 30.0, 15.5, 11.5)
    depth = np.full((24, 32), 2.0, np.float32)
    depth[:, :8] = 0.0
    with PosedFolderWriter(tmp_path / 'renders', camera) as writer:
        for i in range(3):
            image = _image(rng, [50, 50, 50], [10, 10, 10], (24, 32))
            image[:, :8] = 0
            writer.add(i + 1, np.eye(4), image, depth, split='train')
    photos = tmp_path / 'photos'
    photos.mkdir()
    for i in range(2):
        cv2.imwrite(str(photos / f'{i}.png'), _image(rng, [200, 100, 30], [10, 10, 10]))
    out = histmatch_dataset(tmp_path / 'renders', photos, tmp_path / 'matched', progress=False)
    before, after = load_dataset(tmp_path / 'renders')[0], load_dataset(out)[0]
    assert [f.timestamp_ns for f in after.frames] == [f.timestamp_ns for f in before.frames]
    frame = after.frames[0]
    np.testing.assert_array_equal(load_depth(frame), load_depth(before.frames[0]))
    image = load_image(frame)
    assert (image[:, :8] == 0).all()
    # RGB order: the photos are BGR on disk (200, 100, 30) -> RGB means (30, 100, 200).
    np.testing.assert_allclose(image[:, 8:].reshape(-1, 3).mean(0), [30, 100, 200], atol=6)
    with pytest.raises(FileExistsError):
        restyle_dataset(tmp_path / 'renders', out, lambda im, p: im, progress=False)
