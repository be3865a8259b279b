"""core.refresh.lock: the refresh lock renews itself while held and never outlives a dead process."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.errors import LockedError
from core.refresh.lock import is_dead, machine_id, new_owner, refresh_lock
from core.store import Store
from core.store.sqlite import SqliteStore
from tests.waiting import wait_until


def exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_owners_name_this_host_process_and_machine() -> None:
    host, pid, machine, _ = new_owner().split(":")
    assert (host, int(pid), machine) == (socket.gethostname(), os.getpid(), machine_id())
    assert machine  # Linux: boot id and PID namespace are readable here
    assert new_owner() != new_owner()


def test_only_exited_processes_of_this_machine_are_dead() -> None:
    here, machine = socket.gethostname(), machine_id()
    assert is_dead(f"{here}:{exited_pid()}:{machine}:x")
    assert not is_dead(f"{here}:{os.getpid()}:{machine}:x")  # this process
    assert not is_dead(f"{here}:1:{machine}:x")  # init: alive, perhaps another user's
    assert not is_dead(f"elsewhere:{exited_pid()}:{machine}:x")  # another host: only its TTL frees it
    assert not is_dead("no-pid-here")


def test_a_container_with_the_same_hostname_is_not_this_machine() -> None:
    """Two containers started with one --hostname: the other's PIDs are not in our process table."""
    here = socket.gethostname()
    other_container = machine_id().rsplit(".", 1)[0] + ".4026531999"
    assert not is_dead(f"{here}:{exited_pid()}:{other_container}:x")
    assert not is_dead(f"{here}:{exited_pid()}::x")  # a machine that could not say who it is
    assert not is_dead(f"{here}:{exited_pid()}:x")  # an owner written before machine ids


def test_a_dead_processs_lock_is_taken_over(store: Store) -> None:
    dead = f"{socket.gethostname()}:{exited_pid()}:{machine_id()}:crashed"
    assert store.acquire_lock(dead, 3600)
    with refresh_lock(store) as owner:
        assert store.lock_holder() == owner
    assert store.lock_holder() is None


def test_a_live_or_remote_holder_keeps_its_lock(store: Store) -> None:
    here, machine = socket.gethostname(), machine_id()
    for holder in (f"{here}:{os.getpid()}:{machine}:other-thread", f"elsewhere:{exited_pid()}:{machine}:remote"):
        assert store.acquire_lock(holder, 3600)
        with (
            pytest.raises(LockedError, match=f"another refresh is running \\({holder}\\)") as error,
            refresh_lock(store),
        ):
            pass
        assert "frees itself within 60 s" in error.value.hint
        assert store.lock_holder() == holder
        store.release_lock(holder)


def test_the_heartbeat_renews_the_lock_past_its_ttl(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "lock.sqlite3")

    def expiry() -> float:
        with sqlite3.connect(store.path) as conn:
            return float(conn.execute("SELECT expires FROM locks").fetchone()[0])

    with refresh_lock(store, ttl_s=0.3) as owner:
        seen = [expiry()]

        def renewed_three_times() -> bool:  # three renewals, a TTL apart in all: it outlived its first expiry
            if (current := expiry()) != seen[-1]:
                seen.append(current)
            return len(seen) >= 4

        wait_until(renewed_three_times, "the lock was renewed three times", every_s=0.005)
        assert seen == sorted(seen)
        assert store.lock_holder() == owner
        assert not store.acquire_lock("someone-else", 60)
    assert store.lock_holder() is None
    assert not any(t.name == "lock-heartbeat" for t in threading.enumerate())
