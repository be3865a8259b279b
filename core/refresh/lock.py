"""The refresh lock: one writer at a time, and never stuck after a crash.

The lock lives in the store (so it spans processes and, on Vercel, function instances). Its
owner is ``host:pid:machine:token``. While a refresh runs, a heartbeat thread renews the lock
every ``TTL_S / 3`` seconds, so a lock whose process was killed expires within ``TTL_S``; and
a lock held by a process of this machine that no longer exists is taken over at once.

"This machine" must be provable: a host name is not (two containers may share one, each with
its own process ids). ``machine`` is the kernel's boot id with the inode of this process's PID
namespace: the same only for processes that see the same process table. Where neither can
be read, no lock is ever taken over early; the TTL frees it.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import AppError, LockedError
from core.store import Store

log = logging.getLogger(__name__)

TTL_S = 60.0


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{machine_id()}:{uuid.uuid4().hex[:12]}"


@functools.cache
def machine_id() -> str:
    """What processes sharing one process table share: boot id + PID namespace ("" if unknown)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:16]
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}.{namespace}"


def is_dead(owner: str) -> bool:
    """True when ``owner`` provably names a process of this machine that has exited."""
    parts = owner.split(":")
    if len(parts) != 4:
        return False
    host, pid, machine, _ = parts
    if host != socket.gethostname() or not machine or machine != machine_id() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, run by another user
        return False
    return False


@contextmanager
def refresh_lock(store: Store, ttl_s: float = TTL_S) -> Iterator[str]:
    """Hold the store's lock for the ``with`` block, renewing it; LockedError if it is taken."""
    owner = new_owner()
    if not store.acquire_lock(owner, ttl_s):
        holder = store.lock_holder()
        if holder and is_dead(holder):
            log.warning("taking over the refresh lock of %s, which is no longer running", holder)
            store.release_lock(holder)
        if not store.acquire_lock(owner, ttl_s):
            raise LockedError(
                f"another refresh is running ({holder or 'just finished'})",
                f"wait for it to finish; the lock of a refresh that died frees itself within {ttl_s:.0f} s",
            )
    stop = threading.Event()
    heartbeat = threading.Thread(target=_renew, args=(store, owner, ttl_s, stop), daemon=True, name="lock-heartbeat")
    heartbeat.start()
    try:
        yield owner
    finally:
        stop.set()
        heartbeat.join()
        try:
            store.release_lock(owner)
        except AppError as exc:  # it expires on its own; the refresh's own error matters more
            log.error("could not release the refresh lock (it expires within %.0f s): %s", ttl_s, exc)


def _renew(store: Store, owner: str, ttl_s: float, stop: threading.Event) -> None:
    while not stop.wait(ttl_s / 3):
        try:
            if not store.acquire_lock(owner, ttl_s):
                log.error("the refresh lock was taken by %s while this refresh ran", store.lock_holder())
        except AppError as exc:  # the store blinked: the next beat tries again
            log.warning("could not renew the refresh lock: %s", exc)
