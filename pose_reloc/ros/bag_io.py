# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Reading rosbag2 bags (sqlite3 ``.db3`` and ``.mcap``) with ``rosbags``, no ROS install.

The message definitions come from the bag itself (``AnyReader`` builds its typestore from the
bag's metadata / mcap schemas), so types that are not installed (e.g. ``tf2_msgs``) still
deserialize. Messages are returned as ``rosbags`` dataclasses whose fields have the ROS
names; ``pose_reloc.ros.conversions`` reads them by attribute like rclpy messages.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from rosbags.highlevel import AnyReader


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag: name, ROS type (``pkg/msg/Name``) and message count."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagMessage:
    """One message: topic, ROS type, bag log time (ns), the raw CDR and the decoded message.

    ``msg`` is None when the message was read with ``deserialize=False``.
    """

    topic: str
    msgtype: str
    log_time_ns: int
    raw: bytes
    msg: object


def resolve_bag(path) -> Path:
    """Return the bag path (a rosbag2 directory, a ``.mcap`` or a ``.db3`` file).

    A ``.db3`` file inside a rosbag2 directory resolves to its directory (rosbags reads
    the metadata there).

    Raises:
        FileNotFoundError: the path does not exist or holds no bag.

    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'bag not found: {path}')
    if path.is_file() and path.suffix == '.db3' and (path.parent / 'metadata.yaml').exists():
        return path.parent
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        raise FileNotFoundError(f'{path} is a directory without metadata.yaml: not a rosbag2')
    return path


class BagReader:
    """A rosbag2 bag opened for reading (context manager).

    Example:
        >>> with BagReader('run.mcap') as bag:
        ...     for m in bag.messages(['/camera/image_raw']):
        ...         print(m.log_time_ns, m.msg.header.frame_id)

    """

    def __init__(self, path):
        self.path = resolve_bag(path)
        self._reader = AnyReader([self.path])

    def __enter__(self) -> 'BagReader':
        """Open the bag."""
        self._reader.open()
        return self

    def __exit__(self, *exc) -> None:
        """Close the bag."""
        self._reader.close()

    @property
    def topics(self) -> Dict[str, TopicInfo]:
        """Return ``{topic: TopicInfo}`` of every topic in the bag."""
        out: Dict[str, TopicInfo] = {}
        for conn in self._reader.connections:
            prev = out.get(conn.topic)
            out[conn.topic] = TopicInfo(conn.topic, conn.msgtype,
                                        conn.msgcount + (prev.count if prev else 0))
        return out

    @property
    def start_ns(self) -> int:
        """Return the first log time in the bag (ns)."""
        return int(self._reader.start_time)

    @property
    def end_ns(self) -> int:
        """Return the last log time in the bag (ns)."""
        return int(self._reader.end_time)

    def count(self, topics: Optional[Sequence[str]] = None) -> int:
        """Return how many messages the given topics (all when None) hold."""
        return sum(t.count for name, t in self.topics.items()
                   if topics is None or name in topics)

    def require_topic(self, topic: str, msgtypes: Sequence[str]) -> str:
        """Return the type of ``topic``, checking it exists and is one of ``msgtypes``.

        Raises:
            ValueError: the topic is missing (listing the bag's topics) or of another type.

        """
        info = self.topics.get(topic)
        if info is None:
            listing = ', '.join(f'{t.name} [{t.msgtype}]' for t in self.topics.values())
            raise ValueError(f'topic {topic!r} is not in bag {self.path}; it has: {listing}')
        if msgtypes and info.msgtype not in msgtypes:
            raise ValueError(f'topic {topic!r} in {self.path} is {info.msgtype}; expected one of '
                             f'{", ".join(msgtypes)}')
        return info.msgtype

    def messages(self, topics: Optional[Sequence[str]] = None, start_ns: Optional[int] = None,
                 end_ns: Optional[int] = None, deserialize: bool = True
                 ) -> Iterator[BagMessage]:
        """Yield messages in log-time order.

        Args:
            topics: topic names to read (None: all).
            start_ns: first log time to include (ns, inclusive), None for the start.
            end_ns: last log time to include (ns, exclusive), None for the end.
            deserialize: decode each message (False: ``msg`` is None, ``raw`` only).

        """
        conns = [c for c in self._reader.connections if topics is None or c.topic in topics]
        if not conns:
            return
        for conn, log_ns, raw in self._reader.messages(connections=conns, start=start_ns,
                                                       stop=end_ns):
            msg = self._reader.deserialize(raw, conn.msgtype) if deserialize else None
            yield BagMessage(conn.topic, conn.msgtype, int(log_ns), bytes(raw), msg)


def bag_info(path) -> dict:
    """Return a summary of a bag: path, storage, start/end/duration (s), topics and counts."""
    with BagReader(path) as bag:
        topics: List[dict] = [{'name': t.name, 'type': t.msgtype, 'count': t.count}
                              for t in bag.topics.values()]
        storage = 'mcap' if bag.path.suffix == '.mcap' or any(
            bag.path.glob('*.mcap')) else 'sqlite3'
        return {'path': str(bag.path), 'storage': storage, 'start_s': bag.start_ns / 1e9,
                'end_s': bag.end_ns / 1e9, 'duration_s': (bag.end_ns - bag.start_ns) / 1e9,
                'messages': bag.count(), 'topics': topics}
