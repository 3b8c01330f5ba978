"""`serve --demo` replays the bundled Zuul payloads as if their builds had just ended."""

import json
from datetime import UTC, datetime, timedelta

from citriage.local.demo import _moved

from tests.conftest import EVENTS


def test_every_time_moves_by_one_shift_so_the_build_ended_just_now():
    payload = json.loads((EVENTS / "zuul" / "tempest-known.json").read_text())
    moved = _moved(payload, timedelta(minutes=5))
    # Epoch seconds and Zuul's ISO text alike, and nothing else
    before = payload["trigger_time"], payload["enqueue_time"]
    after = moved["trigger_time"], moved["enqueue_time"]
    assert after[1] - after[0] == before[1] - before[0]
    text = json.dumps(moved)
    assert "2026-11-20T11:20:25" not in text
    ends = [datetime.fromisoformat(t) for t in _values(moved, "end_time") if isinstance(t, str)]
    assert ends
    latest = max(ends)
    expected = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    assert abs((latest - expected).total_seconds()) < 5
    assert _values(moved, "log_url") == _values(payload, "log_url")


def _values(node, key):
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in _values(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _values(v, key)]
    return []
