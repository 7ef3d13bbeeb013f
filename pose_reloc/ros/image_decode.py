# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Camera messages to RGB: the one decoder the bag tools and the node share.

``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` become ``(H, W, 3) uint8 RGB``.
Every field the package reads is honoured or refused by name:

- ``Image.encoding``: the 8-bit colour and mono encodings, 16-bit mono (``mono16``,
  ``16UC1``) and colour (``rgb16`` ...), YUV 4:2:2 in both byte orders (``yuv422`` / ``uyvy``
  = U Y0 V Y1; ``yuv422_yuy2`` / ``yuyv`` = Y0 U Y1 V) and the Bayer patterns
  (``bayer_rggb8``, ``bayer_bggr8``, ``bayer_gbrg8``, ``bayer_grbg8`` and their 16-bit
  forms). The colour conversion is ``rosbags.image.convert_color`` (OpenCV's ``cvtColor``
  codes), or cv_bridge where a working ROS 2 cv_bridge is importable; depth and other
  non-camera encodings (``32FC1``, ``16SC1``, ``nv12`` ...) are refused by name.
- ``Image.step``: rows may be padded (``step`` larger than a row); the padding is dropped.
- ``Image.is_bigendian``: 16-bit data in either byte order.
- ``CompressedImage.format``: ``"<encoding>; <jpeg|png> compressed <order>"`` as
  image_transport's compressed plugin writes it; ``order`` (``bgr8`` or ``rgb8``) says which
  channel order the compressed buffer holds, and is read as the plugin's subscriber reads it.
  A bare ``jpeg`` / ``png`` (older publishers) is BGR. ``compressedDepth`` is refused.
- The decoded size of a compressed image is read from its header (Pillow reads only the
  header) and refused above ``max_pixels`` *before* the pixels are decoded.

Errors are :class:`ImageDecodeError` (a ``ValueError``) naming the offending field;
``unsupported`` is True when the whole stream will fail the same way (an encoding or a
format this module does not read), so callers can stop at once instead of dropping frames.
Callers add the topic, message index and stamp (:func:`describe_message`).
"""

import functools
import io
import logging
import sys
from types import SimpleNamespace
from typing import Optional, Tuple
import warnings

import cv2
import numpy as np

_LOG = logging.getLogger(__name__)

#: encoding -> (channels, bytes per channel) of the ``sensor_msgs/Image`` encodings read here.
IMAGE_ENCODINGS = {
    'rgb8': (3, 1), 'bgr8': (3, 1), 'rgba8': (4, 1), 'bgra8': (4, 1),
    'mono8': (1, 1), '8UC1': (1, 1),
    'rgb16': (3, 2), 'bgr16': (3, 2), 'rgba16': (4, 2), 'bgra16': (4, 2),
    'mono16': (1, 2), '16UC1': (1, 2),
    'yuv422': (2, 1), 'uyvy': (2, 1), 'yuv422_yuy2': (2, 1), 'yuyv': (2, 1),
    'bayer_rggb8': (1, 1), 'bayer_bggr8': (1, 1), 'bayer_gbrg8': (1, 1),
    'bayer_grbg8': (1, 1),
    'bayer_rggb16': (1, 2), 'bayer_bggr16': (1, 2), 'bayer_gbrg16': (1, 2),
    'bayer_grbg16': (1, 2),
}

#: generic OpenCV-style encodings read as the named camera encoding.
ENCODING_ALIASES = {'8UC1': 'mono8', '16UC1': 'mono16'}

#: encodings that are not camera images, with the reason given when they are refused.
NOT_CAMERA_ENCODINGS = {
    '32FC1': 'a float depth image', '16SC1': 'a signed 16-bit (depth/disparity) image',
    '64FC1': 'a float image', '8SC1': 'a signed image',
    'nv12': 'planar YUV 4:2:0 (not read; publish yuv422/rgb8 or use image_proc)',
    'nv21': 'planar YUV 4:2:0 (not read; publish yuv422/rgb8 or use image_proc)',
    'nv24': 'planar YUV 4:4:4 (not read; publish yuv422/rgb8 or use image_proc)',
}

#: depth encodings of ``depth_image_to_metres``: encoding -> (sample dtype, metres per unit)
#: (REP 118: 16UC1 millimetres, 32FC1 metres).
DEPTH_ENCODINGS = {'16UC1': ('u2', 0.001), 'mono16': ('u2', 0.001), '32FC1': ('f4', 1.0)}

#: default cap on the decoded size of one image (pixels): 25 MP, above any common camera.
DEFAULT_MAX_PIXELS = 25_000_000

#: compression formats the compressed path decodes.
COMPRESSED_FORMATS = ('jpeg', 'jpg', 'png')


class ImageDecodeError(ValueError):
    """A camera message that cannot be decoded.

    Attributes:
        field: the offending message field (``encoding``, ``step``, ``data``, ``format``,
            ``height``/``width``).
        unsupported: True when every message of the stream will fail the same way (an
            encoding or compression this module does not read), False for one bad message.
    """

    def __init__(self, field: str, text: str, unsupported: bool = False):
        super().__init__(f'{field}: {text}')
        self.field = field
        self.unsupported = unsupported


def describe_message(topic: str, index: int, stamp_ns: Optional[int]) -> str:
    """Return ``"<topic> message #<index> (stamp <s> s)"`` for error messages."""
    stamp = '' if stamp_ns is None else f' (stamp {stamp_ns / 1e9:.9f} s)'
    return f'{topic} message #{index}{stamp}'


# --------------------------------------------------------------------------- raw images
def _data_bytes(data) -> np.ndarray:
    """Return a message's ``data`` field (bytes, array.array, list or ndarray) as uint8."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    arr = np.asarray(data)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.uint8)
    return arr.reshape(-1)


def validate_image_msg(msg) -> Tuple[int, int]:
    """Check a ``sensor_msgs/Image`` and return ``(channels, bytes per channel)``.

    Raises:
        ImageDecodeError: an encoding not read here (``unsupported``), zero size, an odd
            width for YUV 4:2:2, a step smaller than one row or not a whole number of
            samples, or fewer data bytes than ``step * height`` (truncated).

    """
    encoding = str(msg.encoding)
    if encoding not in IMAGE_ENCODINGS:
        what = NOT_CAMERA_ENCODINGS.get(encoding)
        text = (f'encoding {encoding!r} is {what}' if what else
                f'unknown image encoding {encoding!r}')
        raise ImageDecodeError('encoding', f'{text}; supported: '
                               f'{", ".join(sorted(IMAGE_ENCODINGS))}', unsupported=True)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageDecodeError('height/width', f'zero size image {width}x{height} '
                               f'({encoding})')
    channels, itemsize = IMAGE_ENCODINGS[encoding]
    if channels == 2 and width % 2:
        raise ImageDecodeError('width', f'{encoding} (YUV 4:2:2) needs an even width, got '
                               f'{width}')
    row_bytes = width * channels * itemsize
    if step < row_bytes:
        raise ImageDecodeError('step', f'wrong step {step} for a {width}x{height} {encoding} '
                               f'image: a row needs at least {row_bytes} bytes')
    if step % itemsize:
        raise ImageDecodeError('step', f'wrong step {step}: not a multiple of the {encoding} '
                               f'sample size {itemsize}')
    size = len(msg.data)
    if size < step * height:
        raise ImageDecodeError('data', f'truncated data: {size} bytes for a {width}x{height} '
                               f'{encoding} image with step {step} (needs {step * height})')
    return channels, itemsize


def depth_image_to_metres(msg) -> np.ndarray:
    """Decode a depth ``sensor_msgs/Image`` (REP 118) to metres.

    ``16UC1`` (or ``mono16``) holds millimetres with 0 for no return; ``32FC1`` holds metres
    with NaN, infinity or 0 for no return. ``step`` (row padding) and ``is_bigendian`` are
    honoured.

    Args:
        msg: the Image message.

    Returns:
        (H, W) float32 depth in metres, NaN where there is none.

    Raises:
        ImageDecodeError: another encoding (``unsupported``), a zero size, a step smaller than
            a row or not a whole number of samples, or truncated data; the message names the
            field.
    """
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise ImageDecodeError('encoding', f'depth encoding {encoding!r} is not read; expected '
                               f'one of {sorted(DEPTH_ENCODINGS)} (REP 118)', unsupported=True)
    kind, metres_per_unit = DEPTH_ENCODINGS[encoding]
    itemsize = np.dtype(kind).itemsize
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageDecodeError('height/width', f'zero size depth image {width}x{height}')
    if step < width * itemsize or step % itemsize:
        raise ImageDecodeError('step', f'wrong step {step} for a {width}x{height} {encoding} '
                               f'depth image (rows need {width * itemsize} bytes, whole '
                               f'{itemsize}-byte samples)')
    if len(msg.data) < step * height:
        raise ImageDecodeError('data', f'truncated data: {len(msg.data)} bytes for a {width}x'
                               f'{height} {encoding} depth image with step {step}')
    rows = _data_bytes(msg.data)[:step * height].reshape(height, step)[:, :width * itemsize]
    order = '>' if bool(getattr(msg, 'is_bigendian', False)) else '<'
    values = np.ascontiguousarray(rows).view(np.dtype(order + kind)).reshape(height, width)
    depth = values.astype(np.float32) * np.float32(metres_per_unit)
    depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def image_pixels(msg) -> np.ndarray:
    """Return the samples of a validated Image as a native-order array, padding dropped.

    Returns:
        ``(H, W)`` or ``(H, W, C)`` uint8 / uint16 (C = 2 for YUV 4:2:2), in the message's
        own encoding (no colour conversion).

    """
    channels, itemsize = validate_image_msg(msg)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    rows = _data_bytes(msg.data)[:step * height].reshape(height, step)
    rows = rows[:, :width * channels * itemsize]
    if itemsize == 2:
        order = '>' if bool(getattr(msg, 'is_bigendian', False)) else '<'
        pixels = np.ascontiguousarray(rows).view(np.dtype(order + 'u2')).astype(np.uint16)
    else:
        pixels = np.ascontiguousarray(rows)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


def _rosbags_to_rgb(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Convert samples in ``encoding`` to RGB uint8 with rosbags-image (OpenCV's conversions).

    ``pixels`` are compact and in native byte order (:func:`image_pixels`), so the message
    handed to ``rosbags.image.image_to_cvimage`` has no row padding and native endianness.
    16-bit data is scaled to 8 bits by rosbags-image (``v * 255 / 65535``, i.e. ``v // 257``).
    """
    from rosbags.image import image_to_cvimage
    encoding = ENCODING_ALIASES.get(encoding, encoding)
    compact = np.ascontiguousarray(pixels)
    msg = SimpleNamespace(encoding=encoding, height=compact.shape[0], width=compact.shape[1],
                          step=compact.strides[0], is_bigendian=sys.byteorder == 'big',
                          data=compact.reshape(-1).view(np.uint8))
    return np.ascontiguousarray(image_to_cvimage(msg, 'rgb8'))


@functools.lru_cache(maxsize=1)
def _cv_bridge():
    """Return a working ROS 2 ``CvBridge`` or None (checked once by a 2x1 round trip)."""
    try:
        from cv_bridge import CvBridge
        from sensor_msgs.msg import Image
    except ImportError:
        return None
    try:
        bridge = CvBridge()
        msg = Image(height=1, width=2, encoding='bgr8', step=6,
                    data=bytes([1, 2, 3, 4, 5, 6]))
        out = bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8')
        if np.asarray(out).reshape(-1).tolist() != [3, 2, 1, 6, 5, 4]:
            raise ValueError('round trip gave wrong pixels')
    except Exception as exc:  # a ROS 1 stand-in or a broken build: use rosbags-image
        _LOG.warning('cv_bridge is importable but not usable (%s); using rosbags-image', exc)
        return None
    return bridge


#: encodings handed to cv_bridge when it works (8-bit; 16-bit scaling is kept ours).
_CV_BRIDGE_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'yuv422', 'yuv422_yuy2',
                        'bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8')


def image_to_rgb(msg, use_cv_bridge: bool = True) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to ``(H, W, 3) uint8 RGB``.

    Alpha is dropped, mono is replicated to three channels, 16-bit data is scaled by
    ``1/257`` to 8 bits, YUV 4:2:2 and Bayer are converted to RGB (OpenCV's conversions).

    Raises:
        ImageDecodeError: the reason the message is unusable, naming the field.

    """
    pixels = image_pixels(msg)
    encoding = str(msg.encoding)
    bridge = _cv_bridge() if use_cv_bridge and encoding in _CV_BRIDGE_ENCODINGS else None
    if bridge is not None:
        return np.ascontiguousarray(bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8'))
    try:
        return _rosbags_to_rgb(pixels, encoding)
    except Exception as exc:  # rosbags-image's ImageError family or an OpenCV error
        raise ImageDecodeError('encoding', f'cannot convert {encoding!r} to rgb8: {exc}',
                               unsupported=True) from None


# --------------------------------------------------------------------------- compressed
def parse_compressed_format(fmt: str) -> dict:
    """Split a ``CompressedImage.format`` into its parts.

    ``"rgb8; jpeg compressed bgr8"`` gives ``{'encoding': 'rgb8', 'compression': 'jpeg',
    'order': 'bgr8'}``; a bare ``"jpeg"`` gives ``encoding`` '' and ``order`` 'bgr8' (the
    older publishers wrote OpenCV's BGR buffers).

    Raises:
        ImageDecodeError: ``compressedDepth`` or an unknown compression (``format`` field).

    """
    text = str(fmt or '').strip()
    if 'compresseddepth' in text.lower():
        raise ImageDecodeError('format', f'{text!r} is a compressed depth image, not a camera '
                               'image', unsupported=True)
    encoding, _, rest = text.partition(';') if ';' in text else ('', '', text)
    words = rest.replace(',', ' ').split()
    compression = words[0].lower() if words else ''
    order = 'bgr8'
    if 'compressed' in words:
        tail = words[words.index('compressed') + 1:]
        order = tail[0] if tail else order
    if compression and compression not in COMPRESSED_FORMATS:
        raise ImageDecodeError('format', f'compression {compression!r} in {text!r} is not '
                               f'read; supported: jpeg, png', unsupported=True)
    return {'encoding': encoding.strip(), 'compression': compression, 'order': order}


def compressed_size(data) -> Tuple[int, int]:
    """Return ``(width, height)`` of a compressed image from its header alone (Pillow).

    Raises:
        ImageDecodeError: the header is not an image Pillow knows (``data`` field).

    """
    from PIL import Image as PILImage
    raw = _data_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(raw.tobytes())) as im:
                return int(im.size[0]), int(im.size[1])
    except PILImage.DecompressionBombError as exc:
        raise ImageDecodeError('data', f'decompression bomb: {exc}') from None
    except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, SyntaxError...
        raise ImageDecodeError('data', f'cannot decode compressed image ({raw.size} bytes): '
                               f'unreadable header ({type(exc).__name__}: {exc}); '
                               'truncated data or not jpeg/png') from None


def compressed_to_rgb(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (jpeg, png) to ``(H, W, 3) uint8 RGB``.

    The ``format`` field's channel order is honoured (see the module docstring); the size
    is read from the header and refused above ``max_pixels`` before decoding.

    Raises:
        ImageDecodeError: empty or truncated data, a header above ``max_pixels``, an
            unsupported ``format``, or data OpenCV cannot decode.

    """
    raw = _data_bytes(msg.data)
    fmt = str(getattr(msg, 'format', ''))
    if raw.size == 0:
        raise ImageDecodeError('data', f'zero size compressed image (format {fmt!r})')
    parts = parse_compressed_format(fmt)
    width, height = compressed_size(raw)
    if max_pixels and width * height > max_pixels:
        raise ImageDecodeError('data', f'the {parts["compression"] or "compressed"} header says '
                               f'{width}x{height} ({width * height / 1e6:.1f} MP), above the '
                               f'limit of {max_pixels / 1e6:.1f} MP; not decoded')
    decoded = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ImageDecodeError('data', f'cannot decode compressed image ({raw.size} bytes, '
                               f'format {fmt!r}): truncated data or not jpeg/png')
    if decoded.dtype == np.uint16:
        decoded = (decoded.astype(np.uint32) // 257).astype(np.uint8)
    if decoded.ndim == 2 or decoded.shape[2] == 1:
        return np.repeat(decoded.reshape(decoded.shape[0], decoded.shape[1], 1), 3, axis=2)
    # imdecode returns the buffer's channels in file order; the publisher says which order
    # that is (image_transport: "compressed bgr8" = BGR buffer, "compressed rgb8" = RGB)
    buffer_rgb = parts['order'].lower().startswith('rgb')
    if decoded.shape[2] == 4:
        decoded = decoded[:, :, :3]
    if buffer_rgb:
        return np.ascontiguousarray(decoded)
    return cv2.cvtColor(np.ascontiguousarray(decoded), cv2.COLOR_BGR2RGB)


def any_image_to_rgb(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Convert an Image or CompressedImage (told apart by its ``format`` field) to RGB.

    Raises:
        ImageDecodeError: see :func:`image_to_rgb` and :func:`compressed_to_rgb`; a raw
            image above ``max_pixels`` is refused too (``height/width`` field).

    """
    if hasattr(msg, 'format') and not hasattr(msg, 'encoding'):
        return compressed_to_rgb(msg, max_pixels)
    pixels = int(msg.height) * int(msg.width)
    if max_pixels and pixels > max_pixels:
        raise ImageDecodeError('height/width', f'{msg.width}x{msg.height} is above the limit '
                               f'of {max_pixels / 1e6:.1f} MP')
    return image_to_rgb(msg)
