# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Record what a ROS graph publishes (live bag evaluation, latency benchmark, tests).

A ``Recorder`` owns an rclpy node (in its own context unless one is given), subscribes to
named topics and keeps every message with its wall-clock arrival time. Waiting is done by
spinning until a condition holds (message counts, publisher/subscriber counts from discovery),
never by sleeping a fixed time.
"""

import time
from typing import Callable, Dict, List, Optional, Tuple


class Recorder:
    """Subscribe to topics and keep ``(wall_time_s, msg)`` per topic.

    Args:
        topics: ``{topic: (message class, qos profile or depth)}``.
        node_name: the observer node's name.

    Example:
        >>> rec = Recorder({'/reloc_node/pose': (PoseWithCovarianceStamped, POSE_QOS)})
        >>> rec.spin_until(lambda: rec.count('/reloc_node/pose') >= 3, timeout_s=10)

    """

    def __init__(self, topics: Dict[str, Tuple[type, object]], node_name: str = 'recorder'):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        self._context = Context()
        rclpy.init(context=self._context)
        self.node = rclpy.create_node(node_name, context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self.messages: Dict[str, List[Tuple[float, object]]] = {t: [] for t in topics}
        for topic, (cls, qos) in topics.items():
            self.node.create_subscription(cls, topic, self._callback(topic), qos)

    def _callback(self, topic: str) -> Callable:
        def store(msg) -> None:
            self.messages[topic].append((time.time(), msg))
        return store

    def count(self, topic: str) -> int:
        """Return how many messages of ``topic`` arrived."""
        return len(self.messages[topic])

    def last(self, topic: str):
        """Return the newest message of ``topic`` (None before the first)."""
        return self.messages[topic][-1][1] if self.messages[topic] else None

    def spin_once(self, timeout_s: float = 0.05) -> None:
        """Process pending callbacks for at most ``timeout_s``."""
        self._executor.spin_once(timeout_sec=timeout_s)

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until ``predicate()`` is true; return False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                return False
            self._executor.spin_once(timeout_sec=0.02)
        return True

    def wait_for_publishers(self, topic: str, timeout_s: float, count: int = 1) -> bool:
        """Spin until ``topic`` has ``count`` publishers (discovery)."""
        return self.spin_until(lambda: self.node.count_publishers(topic) >= count, timeout_s)

    def wait_for_subscribers(self, topic: str, timeout_s: float, count: int = 1) -> bool:
        """Spin until ``topic`` has ``count`` subscribers (discovery)."""
        return self.spin_until(lambda: self.node.count_subscribers(topic) >= count, timeout_s)

    def publisher(self, cls: type, topic: str, qos=10):
        """Create a publisher on the observer node (to feed the graph)."""
        return self.node.create_publisher(cls, topic, qos)

    def close(self, timeout_s: Optional[float] = None) -> None:
        """Destroy the node and shut the private context down."""
        self._executor.shutdown(timeout_sec=timeout_s)
        self.node.destroy_node()
        self._context.try_shutdown()

    def __enter__(self) -> 'Recorder':
        """Return the recorder."""
        return self

    def __exit__(self, *exc) -> None:
        """Close the recorder."""
        self.close()
