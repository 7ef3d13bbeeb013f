# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The shared camera-message decoder: every encoding, every field, every refusal by name.

Messages are plain namespaces with the ``sensor_msgs`` field names (the decoder reads by
attribute, like it reads rclpy and rosbags messages). Expected pixels come from the colours
the fixtures are built from, never from the decoder itself.
"""

import struct
from types import SimpleNamespace
import zlib

import cv2
import numpy as np
import pytest

from pose_reloc.ros import image_decode as dec
from pose_reloc.ros.conversions import camera_info_to_camera

#: four 2-pixel-wide colour blocks (red, green, blue, a light grey), one row.
BLOCKS = np.array([[200, 30, 40], [20, 180, 60], [30, 50, 210], [160, 160, 160]], np.float64)


def _image(pixels, encoding, pad=0, bigendian=False):
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype == np.uint16:
        pixels = pixels.astype('>u2' if bigendian else '<u2')
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    rows = np.concatenate([rows, np.full((rows.shape[0], pad), 77, np.uint8)], axis=1)
    return SimpleNamespace(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                           is_bigendian=int(bigendian), step=rows.shape[1], data=rows.tobytes())


def _blocks_rgb(height=4):
    return np.repeat(np.repeat(BLOCKS[None], 2, axis=1), height, axis=0).astype(np.uint8)


def _yuv422(rgb_hw3, order):
    """Pack an RGB image (pairs of equal pixels) as 4:2:2, BT.601 video range."""
    rgb = rgb_hw3.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    y, u, v = (np.clip(np.round(c), 0, 255).astype(np.uint8) for c in (y, u, v))
    h, w = y.shape
    out = np.empty((h, w, 2), np.uint8)
    if order == 'yuyv':  # Y0 U Y1 V
        out[:, :, 0] = y
        out[:, 0::2, 1], out[:, 1::2, 1] = u[:, 0::2], v[:, 0::2]
    else:  # uyvy: U Y0 V Y1
        out[:, :, 1] = y
        out[:, 0::2, 0], out[:, 1::2, 0] = u[:, 0::2], v[:, 0::2]
    return out


@pytest.mark.parametrize('encoding, order', [('yuv422_yuy2', 'yuyv'), ('yuyv', 'yuyv'),
                                             ('yuv422', 'uyvy'), ('uyvy', 'uyvy')])
def test_yuv422_both_byte_orders(encoding, order):
    rgb = _blocks_rgb()
    out = dec.image_to_rgb(_image(_yuv422(rgb, order), encoding, pad=6), use_cv_bridge=False)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).max() <= 4
    other = 'yuv422' if order == 'yuyv' else 'yuv422_yuy2'
    swapped = dec.image_to_rgb(_image(_yuv422(rgb, order), other), use_cv_bridge=False)
    assert np.abs(swapped.astype(int) - rgb).max() > 40  # the byte order matters


def _mosaic(rgb, pattern):
    """Sample an RGB image through a 2x2 Bayer pattern like ``'rggb'``."""
    index = {'r': 0, 'g': 1, 'b': 2}
    out = np.zeros(rgb.shape[:2], rgb.dtype)
    for k, colour in enumerate(pattern):
        dy, dx = divmod(k, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, index[colour]]
    return out


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
@pytest.mark.parametrize('bits', [8, 16])
def test_bayer_patterns(pattern, bits):
    colour = np.array([210, 120, 30])
    dtype = np.uint8 if bits == 8 else np.uint16
    scale = 1 if bits == 8 else 257
    rgb = np.tile((colour * scale).astype(dtype), (8, 8, 1))
    out = dec.image_to_rgb(_image(_mosaic(rgb, pattern), f'bayer_{pattern}{bits}', pad=4,
                                  bigendian=bits == 16), use_cv_bridge=False)
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3), np.tile(colour, (16, 1)),
                               atol=1)


def test_sixteen_bit_colour_and_mono_honour_byte_order_and_padding():
    rgb = _blocks_rgb()
    for big in (False, True):
        wide = rgb.astype(np.uint16) * 257
        out = dec.image_to_rgb(_image(wide, 'rgb16', pad=2, bigendian=big), False)
        np.testing.assert_array_equal(out, rgb)
        out = dec.image_to_rgb(_image(wide[:, :, ::-1], 'bgr16', bigendian=big), False)
        np.testing.assert_array_equal(out, rgb)
        gray = wide[:, :, 0]
        for enc in ('mono16', '16UC1'):
            out = dec.image_to_rgb(_image(gray, enc, pad=2, bigendian=big), False)
            np.testing.assert_array_equal(out, np.repeat(rgb[:, :, :1], 3, axis=2))


@pytest.mark.parametrize('encoding, words', [('32FC1', 'depth'), ('nv12', 'YUV 4:2:0'),
                                             ('bayer_xyz8', 'unknown')])
def test_unsupported_encodings_are_named(encoding, words):
    msg = _image(np.zeros((2, 4), np.uint8), encoding)
    with pytest.raises(dec.ImageDecodeError, match=words) as info:
        dec.any_image_to_rgb(msg)
    assert info.value.field == 'encoding' and info.value.unsupported
    assert repr(encoding) in str(info.value)


def test_bad_fields_are_named():
    good = _image(np.zeros((2, 4, 2), np.uint8), 'yuv422')
    for field, change in (('width', {'width': 3}), ('step', {'step': 5}),
                          ('data', {'data': good.data[:-1]}), ('height/width', {'height': 0})):
        msg = SimpleNamespace(**dict(vars(good), **change))
        with pytest.raises(dec.ImageDecodeError) as info:
            dec.image_to_rgb(msg)
        assert info.value.field == field and not info.value.unsupported


def _compressed(rgb, ext, fmt, buffer_order):
    pixels = rgb if buffer_order == 'rgb' else rgb[:, :, ::-1]
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(pixels))
    assert ok
    return SimpleNamespace(format=fmt, data=buf.tobytes())


@pytest.mark.parametrize('ext', ['.png', '.jpg'])
def test_compressed_format_gives_the_buffer_channel_order(ext):
    rgb = np.zeros((8, 16, 3), np.uint8)
    rgb[:, :8] = (255, 0, 0)
    rgb[:, 8:] = (0, 0, 255)
    kind = 'png' if ext == '.png' else 'jpeg'
    cases = [(f'bgr8; {kind} compressed bgr8', 'bgr'), (f'rgb8; {kind} compressed rgb8', 'rgb'),
             (f'rgb8; {kind} compressed bgr8', 'bgr'), (kind, 'bgr'), ('', 'bgr')]
    for fmt, order in cases:
        out = dec.compressed_to_rgb(_compressed(rgb, ext, fmt, order)).astype(int)
        assert np.abs(out[4, 2] - (255, 0, 0)).max() < 12, fmt  # red on the left
        assert np.abs(out[4, 13] - (0, 0, 255)).max() < 12, fmt


def test_compressed_refusals_are_named():
    with pytest.raises(dec.ImageDecodeError, match='compressed depth') as info:
        dec.compressed_to_rgb(SimpleNamespace(format='16UC1; compressedDepth png', data=b'x'))
    assert info.value.field == 'format' and info.value.unsupported
    with pytest.raises(dec.ImageDecodeError, match="compression 'tiff'"):
        dec.compressed_to_rgb(SimpleNamespace(format='rgb8; tiff compressed bgr8', data=b'x'))
    with pytest.raises(dec.ImageDecodeError, match='zero size'):
        dec.compressed_to_rgb(SimpleNamespace(format='jpeg', data=b''))


def _png_header_only(width, height):
    """Return a PNG whose IHDR claims ``width`` x ``height`` (grey, 8 bit) with a tiny IDAT."""
    def chunk(kind, body):
        return (struct.pack('>I', len(body)) + kind + body
                + struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
            + chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))


def test_decoded_size_is_capped_by_the_header_before_decoding(monkeypatch):
    def no_decode(*args):
        raise AssertionError('imdecode must not be called for an image above the cap')
    monkeypatch.setattr(dec.cv2, 'imdecode', no_decode)
    bomb = SimpleNamespace(format='rgb8; png compressed bgr8',
                           data=_png_header_only(12000, 12000))
    with pytest.raises(dec.ImageDecodeError, match='12000x12000') as info:
        dec.any_image_to_rgb(bomb)
    assert info.value.field == 'data'
    ok, jpg = cv2.imencode('.jpg', np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(dec.ImageDecodeError, match='64x48'):
        dec.compressed_to_rgb(SimpleNamespace(format='jpeg', data=jpg.tobytes()),
                              max_pixels=1000)
    raw = _image(np.zeros((48, 64, 3), np.uint8), 'rgb8')
    with pytest.raises(dec.ImageDecodeError, match='64x48'):
        dec.any_image_to_rgb(raw, max_pixels=1000)


def _info(**fields):
    base = {'width': 640, 'height': 480, 'distortion_model': 'plumb_bob', 'd': [0.0] * 5,
            'k': [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0],
            'r': [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
            'p': [450.0, 0.0, 300.0, 0.0, 0.0, 460.0, 230.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            'binning_x': 0, 'binning_y': 0,
            'roi': SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0)}
    base.update(fields)
    return SimpleNamespace(**base)


def test_camera_info_fields_are_honoured():
    cam = camera_info_to_camera(_info())
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.width) == (500.0, 510.0, 320.0, 240.0, 640)
    from_p = camera_info_to_camera(_info(k=[0.0] * 9, d=[0.1, 0.0, 0.0, 0.0, 0.0]))
    assert (from_p.fx, from_p.fy, from_p.cx, from_p.cy) == (450.0, 460.0, 300.0, 230.0)
    assert from_p.distortion_model == 'none'  # P is the rectified camera
    binned = camera_info_to_camera(_info(binning_x=2, binning_y=2))
    assert (binned.width, binned.height, binned.fx, binned.cx) == (320, 240, 250.0, 160.0)
    roi = SimpleNamespace(x_offset=100, y_offset=40, width=200, height=100)
    cropped = camera_info_to_camera(_info(roi=roi))
    assert (cropped.width, cropped.height, cropped.cx, cropped.cy) == (200, 100, 220.0, 200.0)
    rational = camera_info_to_camera(_info(distortion_model='rational_polynomial',
                                           d=[0.1, -0.05, 0.0, 0.0, 0.01, 0.0, 0.0, 0.0]))
    assert rational.distortion_model == 'plumb_bob' and len(rational.distortion) == 8
    ros1 = SimpleNamespace(**{k.upper() if k in 'kdrp' else k: v
                              for k, v in vars(_info()).items()})
    assert camera_info_to_camera(ros1).fx == 500.0


@pytest.mark.parametrize('fields, words', [
    ({'k': [500.0, 3.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]}, 'skew'),
    ({'k': [0.0] * 9, 'p': [0.0] * 12}, 'not calibrated'),
    ({'distortion_model': 'kannala_brandt_8'}, 'distortion_model'),
    ({'roi': SimpleNamespace(x_offset=600, y_offset=0, width=100, height=0)}, 'roi'),
    ({'width': 0}, 'zero size'),
])
def test_camera_info_refusals_are_named(fields, words):
    with pytest.raises(ValueError, match=words):
        camera_info_to_camera(_info(**fields))
