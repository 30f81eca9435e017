"""A long-running MQTT listener that re-reads the state it follows after every gap.

The subscription stream reconnects by itself; Losant does not replay what was published
while it was away, so each reconnect is a gap (``on_gap``): the listener re-reads the
device's last state then, and carries on.

    LOSANT_API_TOKEN=... python examples/mqtt_listener.py APPLICATION_ID DEVICE_ID TOPIC

runs until Ctrl-C. Without ``LOSANT_API_TOKEN`` it starts the local Losant server, has it
drop the stream once, publishes readings until five have arrived, and exits.
"""

from __future__ import annotations

import os
import sys

import anyio
import msgspec

from losant_async import LosantClient
from losant_async.sse import StreamGap


async def listen(
    client: LosantClient,
    application_id: str,
    device_id: str,
    topic: str,
    *,
    stop_after: int | None = None,
) -> None:
    """Print each message on ``topic``; after a gap, the device's state as it is now."""

    async def resync(gap: StreamGap) -> None:
        lost = (gap.end - gap.start).total_seconds()
        print(f"gap: stream {gap.reason}, back after {lost:.2f}s: re-reading the state")
        state = await client.device.get_composite_state(
            application_id=application_id, device_id=device_id
        )
        print(f"state now: {msgspec.json.encode(state).decode()}")

    stream = client.application.mqtt_subscription_stream(application_id=application_id, topic=topic)
    stream.on_gap = resync
    async with stream:
        print(f"listening on {topic!r}")
        async for message in stream:
            print(f"{message.topic}: {message.message}")
            if stop_after is not None and stream.stats.events >= stop_after:
                break
    stats = stream.stats
    print(f"{stats.events} messages, {stats.reconnects} reconnects, {stats.gaps} gaps")


async def local_demo() -> None:
    from losant_async.testing import FakeLosant, StreamDrop

    async with FakeLosant() as server:
        app, device = server.ids.application_id, server.ids.device_id
        server.faults.add(  # the first connection closes after two messages
            StreamDrop(every=2), action="application.mqttSubscriptionStream", times=1
        )
        async with LosantClient(server.token, base_url=server.url) as client:
            await client.device.send_state(
                application_id=app, device_id=device, device_state={"data": {"temp": 21.5}}
            )
            async with anyio.create_task_group() as tg:

                async def readings() -> None:
                    reading = 0
                    while True:  # until the listener has had enough
                        server.publish(app, "plant/temp", f"{20 + reading % 5}.0")
                        reading += 1
                        await anyio.sleep(0.05)

                tg.start_soon(readings)
                await listen(client, app, device, "plant/#", stop_after=5)
                tg.cancel_scope.cancel()


def main() -> None:
    if os.environ.get("LOSANT_API_TOKEN"):
        application_id, device_id, topic = sys.argv[1:4]

        async def run() -> None:
            async with LosantClient() as client:
                await listen(client, application_id, device_id, topic)

        try:
            anyio.run(run)
        except KeyboardInterrupt:
            pass
    else:
        anyio.run(local_demo)


if __name__ == "__main__":
    main()
