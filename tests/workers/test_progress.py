"""Progress notifications leave the task's thread but arrive in the order they were made."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def test_progress_events_arrive_in_order_from_the_sender_thread(platform: Any) -> None:
    import redis

    from core.redis import progress_channel
    from workers import progress

    task_id = str(uuid.uuid4())
    listener = redis.Redis.from_url(platform.redis_url).pubsub()
    listener.subscribe(progress_channel(task_id))
    assert listener.get_message(timeout=5)["type"] == "subscribe"
    try:
        for i in range(50):
            progress.publish(task_id, {"type": "progress", "progress": i})
        assert progress.flush(timeout=10), "the sender did not drain"

        seen: list[int] = []
        deadline = time.monotonic() + 10
        while len(seen) < 50 and time.monotonic() < deadline:
            message = listener.get_message(timeout=1)
            if message and message["type"] == "message":
                seen.append(json.loads(message["data"])["progress"])
        assert seen == list(range(50))
    finally:
        listener.close()
