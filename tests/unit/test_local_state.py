"""`serve --state`: the snapshot gate, and the state directories it refuses to load."""

import pickle
import threading

import pytest
from citriage.local.state import SNAPSHOT, Gate, StateError, StateKeeper


def test_a_snapshot_waits_for_the_requests_inside_and_holds_new_ones_back():
    gate = Gate()
    order: list[str] = []
    inside = threading.Event()
    leave = threading.Event()

    def request(name: str, hold: threading.Event | None = None) -> None:
        with gate.shared():
            order.append(f"{name} in")
            if hold is not None:
                inside.set()
                hold.wait(10)
            order.append(f"{name} out")

    first = threading.Thread(target=request, args=("a", leave))
    first.start()
    inside.wait(10)

    def snapshot() -> None:
        with gate.alone():
            order.append("snapshot")

    taker = threading.Thread(target=snapshot)
    taker.start()
    later = threading.Thread(target=request, args=("b",))
    # The snapshot is waiting for "a": "b" arrives, and must wait for the snapshot
    while taker.is_alive() and not gate._closed:  # the snapshot has closed the gate
        threading.Event().wait(0.01)
    later.start()
    leave.set()
    for thread in (first, taker, later):
        thread.join(10)
    assert order == ["a in", "a out", "snapshot", "b in", "b out"]


def test_a_state_directory_others_may_write_is_never_loaded(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / SNAPSHOT).write_bytes(pickle.dumps({"format": 1}))
    state.chmod(0o777)
    with pytest.raises(StateError, match="not private to this user"):
        StateKeeper(state).load()
    state.chmod(0o700)
    (state / SNAPSHOT).chmod(0o666)
    with pytest.raises(StateError, match="not private to this user"):
        StateKeeper(state).load()


def test_a_state_file_of_another_format_says_so(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    snapshot = state / SNAPSHOT
    snapshot.write_bytes(pickle.dumps({"format": 999}))
    snapshot.chmod(0o600)
    with pytest.raises(StateError, match="another version of citriage"):
        StateKeeper(state).load()


def test_an_empty_directory_is_a_new_state_created_private(tmp_path):
    state = tmp_path / "new"
    assert StateKeeper(state).load() is None
    assert state.stat().st_mode & 0o077 == 0
