"""Live data: MQTT topic matching, stream subscribers, and replay buffers for resumption."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import msgspec

from ._journal import Stats
from ._schema import JSON

Key = tuple[str, ...]


def valid_filter(topic_filter: str) -> bool:
    """An MQTT subscription filter: ``+`` alone in a level, ``#`` alone and last."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def valid_topic(topic: str) -> bool:
    """A topic to publish on: not empty, no wildcards."""
    return bool(topic) and "+" not in topic and "#" not in topic


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching: ``+`` is one level, ``#`` the rest (the parent level included), and a
    topic starting with ``$`` is not matched by a filter starting with a wildcard."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[i]:
            return False
    return len(filter_levels) == len(topic_levels)


@dataclass(slots=True, frozen=True)
class Event:
    """One server-sent event; ``data`` is JSON on one line."""

    name: str
    data: bytes
    id: int | None = None

    def encode(self) -> bytes:
        head = f"event: {self.name}\n"
        if self.id is not None:
            head += f"id: {self.id}\n"
        return head.encode() + b"data: " + self.data + b"\n\n"


# Put in a queue to tell its stream to end.
CLOSE = Event("close", b"")


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream: a bounded queue of events not yet written."""

    key: Key
    queue: asyncio.Queue[Event]
    dropped: int = 0


@dataclass(eq=False, slots=True)
class Channel:
    """Everyone listening on one key, and the latest events for resumption."""

    key: Key
    subscribers: set[Subscriber] = field(default_factory=set)
    replay: deque[Event] = field(default_factory=deque)


class Bus:
    """Routes published messages, device states and commands to open streams.

    Keys: ``("mqtt", applicationId, topicFilter)``, ``("state", applicationId, deviceId)``
    and ``("command", applicationId, deviceId)``. Publishing never waits: a full subscriber
    queue drops the event and counts it.
    """

    def __init__(
        self, stats: Stats, *, stream_ids: bool, queue_size: int, replay_size: int
    ) -> None:
        self.stats = stats
        self.stream_ids = stream_ids
        self.queue_size = queue_size
        self.replay_size = replay_size
        self.channels: dict[Key, Channel] = {}
        self._filters: dict[str, dict[str, Channel]] = {}
        self._next_id = 0

    def subscribe(
        self, key: Key, last_event_id: str | None = None
    ) -> tuple[Subscriber, list[Event]]:
        """A new subscriber on ``key`` and the buffered events after ``last_event_id``."""
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = Channel(key, replay=deque(maxlen=self.replay_size))
            if key[0] == "mqtt":
                self._filters.setdefault(key[1], {})[key[2]] = channel
        sub = Subscriber(key, asyncio.Queue(maxsize=self.queue_size))
        channel.subscribers.add(sub)
        backlog: list[Event] = []
        if self.stream_ids and last_event_id is not None:
            try:
                after = int(last_event_id.strip())
            except ValueError:
                after = None
            if after is not None:
                backlog = [e for e in channel.replay if e.id is not None and e.id > after]
        return sub, backlog

    def unsubscribe(self, sub: Subscriber) -> None:
        channel = self.channels.get(sub.key)
        if channel is not None:
            channel.subscribers.discard(sub)

    def subscriber_count(self, key: Key) -> int:
        channel = self.channels.get(key)
        return len(channel.subscribers) if channel is not None else 0

    def _emit(self, channel: Channel, name: str, payload: JSON) -> int:
        event_id: int | None = None
        if self.stream_ids:
            self._next_id += 1
            event_id = self._next_id
        event = Event(name, msgspec.json.encode(payload), event_id)
        if self.stream_ids:
            channel.replay.append(event)
        for sub in channel.subscribers:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped += 1
                self.stats.dropped_events += 1
        return len(channel.subscribers)

    def publish(self, application_id: str, topic: str, message: str) -> int:
        """Deliver an MQTT message to matching subscriptions; returns the streams reached."""
        reached = 0
        for topic_filter, channel in self._filters.get(application_id, {}).items():
            if topic_matches(topic_filter, topic):
                reached += self._emit(channel, "mqttMessage", {"topic": topic, "message": message})
        return reached

    def device_event(self, kind: str, application_id: str, device_id: str, payload: JSON) -> int:
        """A ``deviceState`` (kind ``state``) or ``deviceCommand`` (kind ``command``)."""
        channel = self.channels.get((kind, application_id, device_id))
        if channel is None:
            return 0
        name = "deviceState" if kind == "state" else "deviceCommand"
        return self._emit(channel, name, payload)

    def close_all(self) -> None:
        """Tell every open stream to end."""
        for channel in self.channels.values():
            for sub in channel.subscribers:
                while True:
                    try:
                        sub.queue.put_nowait(CLOSE)
                        break
                    except asyncio.QueueFull:
                        sub.queue.get_nowait()
