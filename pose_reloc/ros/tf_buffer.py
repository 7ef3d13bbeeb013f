# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""An interpolating transform buffer: static and dynamic transforms, chain lookups.

Used by bag extraction (ground truth from a TF chain at image stamps) and by the node as
the fallback when ``tf2_ros`` is not importable. Semantics follow tf2: every frame has one
parent; a lookup walks both frames up to their common ancestor; a dynamic link is
interpolated between its two bracketing samples (linear translation, slerp rotation) and
never extrapolated; ``stamp_ns=None`` asks for the latest time at which the whole chain is
known (tf2's ``Time(0)``).
"""

import bisect
import threading
from typing import Dict, List, Optional, Tuple

import numpy as np

from pose_reloc.core.util import NS_PER_S
from pose_reloc.geometry.se3 import interpolate, interpolate_at, invert


class TransformError(LookupError):
    """A lookup that cannot be answered (unknown frame, no chain, time out of range)."""


class _Link:
    """The samples of one parent -> child link (static: one transform, no time)."""

    def __init__(self, parent: str, static: bool):
        self.parent = parent
        self.static = static
        self.stamps_ns: List[int] = []
        self.transforms: List[np.ndarray] = []

    def add(self, T_parent_child: np.ndarray, stamp_ns: int) -> None:
        if self.static:
            self.stamps_ns, self.transforms = [0], [T_parent_child]
            return
        if not self.stamps_ns or stamp_ns > self.stamps_ns[-1]:
            self.stamps_ns.append(stamp_ns)
            self.transforms.append(T_parent_child)
            return
        i = bisect.bisect_left(self.stamps_ns, stamp_ns)
        if i < len(self.stamps_ns) and self.stamps_ns[i] == stamp_ns:
            self.transforms[i] = T_parent_child
        else:
            self.stamps_ns.insert(i, stamp_ns)
            self.transforms.insert(i, T_parent_child)

    def prune_before(self, stamp_ns: int) -> None:
        if self.static or len(self.stamps_ns) < 3:
            return
        i = bisect.bisect_left(self.stamps_ns, stamp_ns)
        keep = min(max(i - 1, 0), len(self.stamps_ns) - 2)
        if keep > 0:
            del self.stamps_ns[:keep]
            del self.transforms[:keep]

    def at(self, stamp_ns: int, child: str) -> np.ndarray:
        if self.static:
            return self.transforms[0]
        stamps = self.stamps_ns
        if stamp_ns < stamps[0] or stamp_ns > stamps[-1]:
            raise TransformError(
                f'{self.parent} -> {child} at {stamp_ns / NS_PER_S:.3f} s is outside its data '
                f'[{stamps[0] / NS_PER_S:.3f}, {stamps[-1] / NS_PER_S:.3f}] s (no extrapolation)')
        i = bisect.bisect_left(stamps, stamp_ns)
        if stamps[i] == stamp_ns:
            return self.transforms[i]
        t0, t1 = stamps[i - 1], stamps[i]
        return interpolate(self.transforms[i - 1], self.transforms[i],
                           (stamp_ns - t0) / float(t1 - t0))


class TfBuffer:
    """Static + dynamic transforms with interpolated chain lookups (thread safe).

    Args:
        cache_ns: keep dynamic samples this long behind the newest one (None: keep all,
            right for a bag; the node uses 10 s like tf2).

    """

    def __init__(self, cache_ns: Optional[int] = None):
        self._links: Dict[str, _Link] = {}
        self._lock = threading.Lock()
        self._cache_ns = cache_ns
        self._newest_ns = 0

    def set_transform(self, T_parent_child: np.ndarray, stamp_ns: int, parent: str,
                      child: str, static: bool = False) -> None:
        """Insert ``T_parent_child`` (4x4) at ``stamp_ns`` (ignored for static links).

        Raises:
            ValueError: empty frame names, a self loop, a non-finite transform, or a frame
                that would get a second parent (tf2 forbids it; we refuse so that a bag with
                conflicting trees is noticed). A static link replaces a dynamic one of the
                same child and vice versa.

        """
        parent, child = parent.lstrip('/'), child.lstrip('/')
        if not parent or not child or parent == child:
            raise ValueError(f'invalid transform {parent!r} -> {child!r}')
        T = np.asarray(T_parent_child, dtype=np.float64)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise ValueError(f'transform {parent} -> {child} is not a finite 4x4 matrix')
        with self._lock:
            link = self._links.get(child)
            if link is None or link.static != static:
                link = self._links[child] = _Link(parent, static)
            elif link.parent != parent:
                raise ValueError(f'frame {child!r} has two parents: {link.parent!r} and '
                                 f'{parent!r}')
            link.add(T, int(stamp_ns))
            if not static:
                self._newest_ns = max(self._newest_ns, int(stamp_ns))
                if self._cache_ns is not None:
                    link.prune_before(self._newest_ns - self._cache_ns)

    def add_tf_message(self, msg, static: bool = False) -> int:
        """Insert every transform of a ``tf2_msgs/TFMessage``; return how many were added."""
        from pose_reloc.ros.conversions import msg_to_T, stamp_to_ns
        for tr in msg.transforms:
            self.set_transform(
                msg_to_T(tr, f'transform {tr.header.frame_id} -> {tr.child_frame_id}'),
                stamp_to_ns(tr.header.stamp), tr.header.frame_id, tr.child_frame_id, static)
        return len(msg.transforms)

    def frames(self) -> List[str]:
        """Return every frame the buffer knows, sorted."""
        with self._lock:
            names = set(self._links) | {link.parent for link in self._links.values()}
        return sorted(names)

    def _path_to_root(self, frame: str) -> List[str]:
        path = [frame]
        while path[-1] in self._links:
            path.append(self._links[path[-1]].parent)
            if len(path) > 1000:
                raise TransformError(f'TF loop above {frame!r}')
        return path

    def _chain(self, parent: str, child: str) -> Tuple[List[str], List[str]]:
        known = set(self._links) | {link.parent for link in self._links.values()}
        for frame in (parent, child):
            if frame not in known:
                raise TransformError(f'unknown frame {frame!r}; known: {sorted(known)}')
        up_parent, up_child = self._path_to_root(parent), self._path_to_root(child)
        common = next((f for f in up_child if f in set(up_parent)), None)
        if common is None:
            raise TransformError(f'{parent!r} and {child!r} are not in one TF tree')
        return up_parent[:up_parent.index(common)], up_child[:up_child.index(common)]

    def chain_links(self, parent: str, child: str) -> List[str]:
        """Return the child frames of the links between ``parent`` and ``child``."""
        with self._lock:
            below_parent, below_child = self._chain(parent.lstrip('/'), child.lstrip('/'))
        return below_parent + below_child

    def time_range(self, parent: str, child: str) -> Tuple[Optional[int], Optional[int]]:
        """Return ``(first_ns, last_ns)`` when the whole chain is known; (None, None) if static.

        Raises:
            TransformError: unknown frames, no chain, or dynamic links that never overlap.

        """
        parent, child = parent.lstrip('/'), child.lstrip('/')
        with self._lock:
            below_parent, below_child = self._chain(parent, child)
            lows, highs = [], []
            for frame in below_parent + below_child:
                link = self._links[frame]
                if not link.static:
                    lows.append(link.stamps_ns[0])
                    highs.append(link.stamps_ns[-1])
        if not lows:
            return None, None
        if max(lows) > min(highs):
            raise TransformError(f'the links between {parent!r} and {child!r} have no common '
                                 'time')
        return max(lows), min(highs)

    def lookup(self, parent: str, child: str, stamp_ns: Optional[int] = None) -> np.ndarray:
        """Return ``T_parent_child`` (4x4 float64) at ``stamp_ns`` (None: latest common time).

        Raises:
            TransformError: unknown frames, no chain, or a time outside a link's samples.

        """
        parent, child = parent.lstrip('/'), child.lstrip('/')
        if parent == child:
            return np.eye(4)
        if stamp_ns is None:
            _, stamp_ns = self.time_range(parent, child)
            stamp_ns = 0 if stamp_ns is None else stamp_ns
        with self._lock:
            below_parent, below_child = self._chain(parent, child)
            T_common_child = np.eye(4)
            for frame in below_child:
                T_common_child = self._links[frame].at(stamp_ns, frame) @ T_common_child
            T_common_parent = np.eye(4)
            for frame in below_parent:
                T_common_parent = self._links[frame].at(stamp_ns, frame) @ T_common_parent
        return invert(T_common_parent) @ T_common_child

    def lookup_many(self, parent: str, child: str, stamps_ns) -> Tuple[np.ndarray, np.ndarray]:
        """Vectorized ``lookup`` at many times.

        Args:
            parent: target frame.
            child: source frame.
            stamps_ns: (M,) integer nanoseconds.

        Returns:
            ``(T_parent_child_m44, valid_m)``: (M, 4, 4) float64 (NaN where invalid) and
            (M,) bool, False where a link has no data around that time.

        Raises:
            TransformError: unknown frames or no chain.

        """
        parent, child = parent.lstrip('/'), child.lstrip('/')
        query = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
        valid = np.ones(query.shape[0], dtype=bool)
        with self._lock:
            below_parent, below_child = self._chain(parent, child)
            sides = []
            for frames in (below_parent, below_child):
                T_common = np.broadcast_to(np.eye(4), (query.shape[0], 4, 4)).copy()
                for frame in frames:
                    link = self._links[frame]
                    if link.static:
                        T_link = link.transforms[0]
                    else:
                        T_link, ok = interpolate_at(np.asarray(link.stamps_ns, np.int64),
                                                    np.stack(link.transforms), query)
                        valid &= ok
                        T_link = np.where(ok[:, None, None], T_link, np.eye(4))
                    T_common = T_link @ T_common
                sides.append(T_common)
        poses = np.linalg.inv(sides[0]) @ sides[1]
        poses[~valid] = np.nan
        return poses, valid

    def can_transform(self, parent: str, child: str, stamp_ns: Optional[int] = None) -> bool:
        """Return True when ``lookup(parent, child, stamp_ns)`` would succeed."""
        try:
            self.lookup(parent, child, stamp_ns)
        except TransformError:
            return False
        return True
