# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""What ``reloc_node`` refuses and how long it waits: small, ROS-free helpers.

- :func:`wait_for_transform`: tf2 message-filter behaviour for one frame: retry a TF lookup
  until it covers the image stamp or a deadline passes (bounded, counted by the caller).
- :func:`require_covariance`: a bundle that cannot give a covariance is refused at start-up,
  with the reason, instead of refusing every frame later.
- :func:`image_size_refusal`: images far smaller than the bundle was trained on are refused.
- :class:`FailureRate`: the recent failure rate, turned into a diagnostics level (OK, WARN,
  ERROR) as operators watch the level, not the counters.
"""

from collections import deque
import time
from typing import Callable, Optional, Tuple

#: diagnostic_msgs/DiagnosticStatus levels (kept here so that this module needs no ROS).
OK, WARN, ERROR = 0, 1, 2


def wait_for_transform(lookup: Callable[[], object], deadline: Optional[float],
                       poll_s: float = 0.005) -> Tuple[Optional[object], str, bool]:
    """Call ``lookup`` until it succeeds or the monotonic ``deadline`` passes.

    Args:
        lookup: returns the transform or raises (any exception means "not yet").
        deadline: ``time.monotonic()`` value after which to give up (already past: one
            try); None: one try, and a failure is not a timeout.
        poll_s: seconds between two tries.

    Returns:
        ``(transform or None, the last error text, timed_out)``; ``timed_out`` is True when
        a deadline was given and passed without a transform.

    """
    while True:
        try:
            return lookup(), '', False
        except Exception as exc:  # tf2_ros and TfBuffer raise their own families
            error = f'{type(exc).__name__}: {exc}'
        if deadline is None:
            return None, error, False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, error, True
        time.sleep(min(poll_s, remaining))


def require_covariance(localizer, bundle: str = '') -> None:
    """Refuse a localizer that will never give a covariance (checked at start-up).

    An APR/MSPN bundle without its ``uncertainty`` section (or with ``mc_samples`` 0) gives
    poses without a covariance, which the node never publishes.

    Raises:
        ValueError: naming the bundle, the missing section and the remedies.

    """
    samples = getattr(localizer, 'mc_samples', None)
    if samples is None or int(samples) >= 2:
        return
    config = getattr(localizer, 'config', {}) or {}
    where = f'bundle {bundle}' if bundle else f'the {getattr(localizer, "method", "")} bundle'
    missing = ('has no uncertainty section' if 'uncertainty' not in config
               else 'sets uncertainty.mc_samples to 0')
    raise ValueError(f'{where} {missing}: it gives no pose covariance, and the node publishes '
                     'only poses with one; set -p mc_samples:=N (N >= 2, MC dropout) or '
                     're-train the bundle (training writes the section)')


def trained_size(localizer) -> Optional[Tuple[int, int]]:
    """Return the ``(width, height)`` the localizer was trained on, or None when unknown."""
    camera = getattr(localizer, 'camera', None)
    if camera is not None:
        return int(camera.width), int(camera.height)
    hw = getattr(localizer, 'input_hw', None)
    if hw is not None:
        return int(hw[1]), int(hw[0])
    return None


def image_size_refusal(width: int, height: int, trained: Optional[Tuple[int, int]],
                       min_scale: float) -> Optional[str]:
    """Return why an image is too small for the bundle, or None when it is acceptable.

    Args:
        width: image width, pixels.
        height: image height, pixels.
        trained: ``(width, height)`` of the training images (None: no check).
        min_scale: smallest accepted fraction of the training width and height (0: off).

    """
    if trained is None or min_scale <= 0:
        return None
    tw, th = trained
    if width < min_scale * tw or height < min_scale * th:
        return (f'image {width}x{height} is far smaller than the {tw}x{th} images the bundle '
                f'was trained on (min_image_scale {min_scale:g})')
    return None


class FailureRate:
    """Outcomes of the last ``window`` frames and the diagnostics level they give.

    Args:
        window: number of recent frames considered.
        warn_rate: failure fraction from which the level is WARN.
        error_rate: failure fraction from which the level is ERROR (with at least
            ``min_frames`` frames seen, so that one bad frame is not an error).
        min_frames: frames needed before ERROR.

    """

    def __init__(self, window: int = 20, warn_rate: float = 0.5, error_rate: float = 0.9,
                 min_frames: int = 5):
        self._outcomes = deque(maxlen=max(int(window), 1))
        self.warn_rate = float(warn_rate)
        self.error_rate = float(error_rate)
        self.min_frames = int(min_frames)

    def add(self, ok: bool) -> None:
        """Record one frame's outcome (True: a pose was published)."""
        self._outcomes.append(bool(ok))

    @property
    def rate(self) -> float:
        """Return the failure fraction of the recent frames (0 when none)."""
        n = len(self._outcomes)
        return 0.0 if n == 0 else sum(1 for ok in self._outcomes if not ok) / n

    def level(self) -> Tuple[int, str]:
        """Return ``(level, message)``: OK, WARN or ERROR by the recent failure rate."""
        n, rate = len(self._outcomes), self.rate
        text = f'{rate:.0%} of the last {n} frames failed'
        if n >= self.min_frames and rate >= self.error_rate:
            return ERROR, text
        if n and rate >= self.warn_rate:
            return WARN, text
        return OK, 'localizing'
