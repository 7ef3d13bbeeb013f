# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Reading robot bags with ``rosbags``, no ROS install: rosbag2 (``.db3``, ``.mcap``) and ROS 1.

Which message definitions are used:

- the bag's own (rosbag2 from Iron on stores them; every ROS 1 ``.bag`` does);
- for types the bag does not define (bags written by Humble and older: ``metadata.yaml``
  version <= 5, a ``.db3`` without definitions), the standard types of a rosbags type store
  (``rosbags.typesys.Stores``): the one named by ``typestore`` (``--typestore`` on the command
  line), else the distribution the metadata names (``ros_distro``), else the one its
  metadata version implies (<= 4: Foxy, 5: Humble, 6-7: Iron, 8-9: Jazzy, newer or a bare
  ``.mcap``: the latest); ROS 1 bags: Noetic.

A rosbag2 whose ``metadata.yaml`` version is newer than the installed rosbags reads is read
through a compatibility view (a temporary folder linking the storage files, with the version
lowered to the newest known one; a warning says so) since the storage files describe
themselves; when that fails too, :class:`BagError` says which version, which rosbags, and what
to do. Every failure to open or decode a bag is a :class:`BagError` (a ``ValueError``) with one
line naming the bag, the topic and type where known, and the remedy: never a traceback of
the reader's internals.

Messages are returned as ``rosbags`` dataclasses whose fields have the ROS names (ROS 1
messages keep ROS 1 names, e.g. ``CameraInfo.K``); ``pose_reloc.ros.conversions`` reads them by
attribute like rclpy messages. ``BagMessage.raw`` is CDR for rosbag2 and ROS 1 serialization
for ROS 1 bags (``is_ros1``).
"""

from contextlib import suppress
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import shutil
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence

from rosbags.highlevel import AnyReader
from rosbags.typesys import get_typestore, Stores

_LOG = logging.getLogger(__name__)

#: ``--typestore`` names: ``auto`` (from the bag) or a rosbags store (``ros2_humble``, ...).
TYPESTORE_NAMES = ('auto',) + tuple(s.value for s in Stores if s is not Stores.EMPTY)

#: the rosbag2 metadata version a newer bag is presented as when rosbags refuses its version
#: (the newest that rosbags 0.10 and 0.11 read).
ROSBAG2_MAX_VERSION = 9


class BagError(ValueError):
    """A bag that cannot be opened or decoded; the message says which part and what to do."""


def _store(name: str) -> Stores:
    try:
        return Stores(name)
    except ValueError:
        raise BagError(f'unknown type store {name!r}; use one of '
                       f'{", ".join(TYPESTORE_NAMES)}') from None


def _read_metadata(path: Path) -> dict:
    """Return a rosbag2's ``rosbag2_bagfile_information`` ({} when unreadable or ROS 1)."""
    meta = path / 'metadata.yaml' if path.is_dir() else None
    if meta is None or not meta.is_file():
        return {}
    import yaml
    try:
        data = yaml.safe_load(meta.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BagError(f'{meta}: not a readable rosbag2 metadata file: {exc}') from None
    info = data.get('rosbag2_bagfile_information') if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise BagError(f'{meta}: no rosbag2_bagfile_information section: not a rosbag2 bag')
    return info


def default_store(metadata: dict) -> Stores:
    """Return the type store for a rosbag2's standard types from its metadata (see module)."""
    distro = str(metadata.get('ros_distro') or '').lower()
    by_name = {s.value.split('_', 1)[-1]: s for s in Stores if s.value.startswith('ros2_')}
    if distro in by_name:
        return by_name[distro]
    version = int(metadata.get('version') or 0)
    if version == 0:  # a bare .mcap: it defines its types; fill gaps with the latest
        return Stores.LATEST
    if version <= 4:
        return Stores.ROS2_FOXY
    if version == 5:
        return Stores.ROS2_HUMBLE
    if version <= 7:
        return Stores.ROS2_IRON
    if version <= 9:
        return Stores.ROS2_JAZZY
    return Stores.LATEST


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
    """Return the bag path (a rosbag2 directory, a ``.mcap``, a ``.db3`` or a ROS 1 ``.bag``).

    A ``.db3`` / ``.mcap`` file inside a rosbag2 directory resolves to its directory (rosbags
    reads the metadata there).

    Raises:
        FileNotFoundError: the path does not exist or holds no bag.

    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'bag not found: {path}')
    if (path.is_file() and path.suffix in ('.db3', '.mcap')
            and (path.parent / 'metadata.yaml').exists()):
        return path.parent
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        raise FileNotFoundError(f'{path} is a directory without metadata.yaml: not a rosbag2')
    if path.is_file() and path.suffix not in ('.db3', '.mcap', '.bag'):
        raise FileNotFoundError(f'{path}: not a bag (expected a rosbag2 directory, .db3, .mcap '
                                'or a ROS 1 .bag)')
    return path


def _compat_view(path: Path, metadata: dict) -> Path:
    """Return a temporary rosbag2 folder: links to the storage files, version lowered."""
    import yaml
    view = Path(tempfile.mkdtemp(prefix='pose_reloc_bag_'))
    for name in metadata.get('relative_file_paths') or []:
        source = (path / Path(name).name).resolve()
        os.symlink(source, view / source.name)
    lowered = dict(metadata, version=ROSBAG2_MAX_VERSION)
    (view / 'metadata.yaml').write_text(yaml.safe_dump({'rosbag2_bagfile_information':
                                                        lowered}))
    return view


class BagReader:
    """A rosbag2 or ROS 1 bag opened for reading (context manager).

    Args:
        path: rosbag2 directory, ``.db3``, ``.mcap`` or ROS 1 ``.bag``.
        typestore: ``auto`` or a ``rosbags.typesys.Stores`` name (``ros2_humble``, ...) for
            the standard types the bag does not define (see the module docstring).

    Example:
        >>> with BagReader('run.mcap') as bag:
        ...     for m in bag.messages(['/camera/image_raw']):
        ...         print(m.log_time_ns, m.msg.header.frame_id)

    """

    def __init__(self, path, typestore: str = 'auto'):
        self.path = resolve_bag(path)
        self.is_ros1 = self.path.suffix == '.bag'
        self.metadata = {} if self.is_ros1 else _read_metadata(self.path)
        self.version = int(self.metadata.get('version') or 0)
        if typestore in (None, '', 'auto'):
            self.store = Stores.ROS1_NOETIC if self.is_ros1 else default_store(self.metadata)
        else:
            self.store = _store(typestore)
        self.notes: List[str] = []
        self._view: Optional[Path] = None
        self._reader = None

    def _open_reader(self, path: Path) -> AnyReader:
        reader = AnyReader([path], default_typestore=get_typestore(self.store))
        reader.open()
        return reader

    def __enter__(self) -> 'BagReader':
        """Open the bag (see the class docstring); raise :class:`BagError` with the remedy."""
        try:
            try:
                self._reader = self._open_reader(self.path)
            except Exception as exc:
                if self.version <= ROSBAG2_MAX_VERSION or 'version' not in str(exc).lower():
                    raise
                self._reader = self._open_newer(exc)
        except BagError:
            raise
        except Exception as exc:  # rosbags' reader errors: one line with the remedy
            raise BagError(f'cannot read bag {self.path}: {type(exc).__name__}: {exc}'
                           f'{self._remedy(exc)}') from None
        self._add_standard_types()
        return self

    def _open_newer(self, refusal: Exception) -> AnyReader:
        """Open a bag whose metadata version rosbags refused through a compatibility view."""
        from importlib.metadata import version
        installed = version('rosbags')
        self._view = _compat_view(self.path, self.metadata)
        try:
            reader = self._open_reader(self._view)
        except Exception as exc:
            shutil.rmtree(self._view, ignore_errors=True)
            self._view = None
            raise BagError(
                f'bag {self.path}: rosbag2 metadata version {self.version} is newer than '
                f'rosbags {installed} reads ({refusal}), and reading it as '
                f'version {ROSBAG2_MAX_VERSION} failed ({type(exc).__name__}: {exc}); '
                'upgrade rosbags (pip install -U rosbags) or convert the bag with a ROS 2 '
                "of the recording's distribution (ros2 bag convert)") from None
        note = (f'rosbag2 metadata version {self.version} is newer than rosbags {installed} '
                f'reads: read as version {ROSBAG2_MAX_VERSION} '
                '(the storage files describe their messages); upgrade rosbags if anything '
                'looks wrong')
        self.notes.append(note)
        _LOG.warning('%s: %s', self.path, note)
        return reader

    def _remedy(self, exc: Exception) -> str:
        text = str(exc).lower()
        if 'type' in text or 'definition' in text:
            return (f' (type store {self.store.value}); name the ROS distribution that '
                    f'recorded it with --typestore (one of {", ".join(TYPESTORE_NAMES[1:])})')
        if 'version' in text:
            return '; upgrade rosbags (pip install -U rosbags)'
        return ''

    def _add_standard_types(self) -> None:
        """Register the chosen store's types the bag does not define itself."""
        store = get_typestore(self.store)
        have = self._reader.typestore.fielddefs
        missing = {k: v for k, v in store.fielddefs.items() if k not in have}
        if missing and not self.is_ros1:
            with suppress(Exception):
                self._reader.typestore.register(missing)

    def __exit__(self, *exc) -> None:
        """Close the bag (and remove a compatibility view)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._view is not None:
            shutil.rmtree(self._view, ignore_errors=True)
            self._view = None

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

        Raises:
            BagError: a message that does not decode, naming topic, type, index and the remedy.

        """
        conns = [c for c in self._reader.connections if topics is None or c.topic in topics]
        if not conns:
            return
        index: Dict[str, int] = {}
        for conn, log_ns, raw in self._reader.messages(connections=conns, start=start_ns,
                                                       stop=end_ns):
            n = index[conn.topic] = index.get(conn.topic, -1) + 1
            msg = None
            if deserialize:
                try:
                    msg = self._reader.deserialize(raw, conn.msgtype)
                except Exception as exc:  # rosbags' AnyReaderError, KeyError, TypesysError
                    known = conn.msgtype in self._reader.typestore.fielddefs
                    remedy = ('name the ROS distribution that recorded the bag with '
                              '--typestore' if known else
                              f'{conn.msgtype} is neither defined in the bag nor a standard '
                              f'type of {self.store.value}: name the recording distribution '
                              'with --typestore, or re-record (Iron and newer store message '
                              'definitions)')
                    raise BagError(
                        f'bag {self.path}: cannot decode {conn.topic} [{conn.msgtype}] message '
                        f'#{n} (log time {int(log_ns) / 1e9:.9f} s) with the '
                        f'{self.store.value} types: {type(exc).__name__}: {exc}; {remedy}'
                    ) from None
            yield BagMessage(conn.topic, conn.msgtype, int(log_ns), bytes(raw), msg)


def bag_info(path, typestore: str = 'auto') -> dict:
    """Return a summary of a bag: path, storage, start/end/duration (s), topics and counts."""
    with BagReader(path, typestore) as bag:
        topics: List[dict] = [{'name': t.name, 'type': t.msgtype, 'count': t.count}
                              for t in bag.topics.values()]
        storage = 'rosbag1' if bag.is_ros1 else 'mcap' if bag.path.suffix == '.mcap' or any(
            bag.path.glob('*.mcap')) else 'sqlite3'
        return {'path': str(bag.path), 'storage': storage, 'typestore': bag.store.value,
                'metadata_version': bag.version, 'notes': list(bag.notes),
                'start_s': bag.start_ns / 1e9, 'end_s': bag.end_ns / 1e9,
                'duration_s': (bag.end_ns - bag.start_ns) / 1e9,
                'messages': bag.count(), 'topics': topics}
