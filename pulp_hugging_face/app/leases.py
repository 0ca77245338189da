"""Leases in the database: which content-app process asks upstream for something now.

Any number of content apps, on any number of hosts, share one database. Before a process asks
upstream for a file body or a fact, it takes the lease for it (a row per remote and key); every
other process that needs the same thing follows the leader instead of asking again. The leader
beats a heartbeat; when it stops (the process died, its host is gone), a follower takes the
lease over. A lease ends `done` (the result is in the database or storage) or `failed`, with
the error the followers that waited for it report too.

The rules are in `decide()` (pure, unit tested); the rest is the database side.

Heartbeats and their ages are the database's clock (`Now()`), not a host's: hosts' clocks
differ, and a follower whose own query result waited in a busy process must not see a lease as
older than it was when read. Heartbeats are written from a thread of their own (with its own
connection), so they do not queue behind the requests of the content app's one sync thread.
"""

import asyncio
import hashlib
import json
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, close_old_connections
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Now

from . import hub
from .models import UpstreamLease
from .upstream import UpstreamUnavailable

log = logging.getLogger(__name__)

HEARTBEAT = 1.0  # seconds between a leader's heartbeats
# Seconds without a heartbeat before a follower takes over: several missed beats, and well
# under a client's 10 s read timeout, so the followers' clients still get bytes in time.
LEASE_TIMEOUT = 5.0

RUNNING, DONE, FAILED = "running", "done", "failed"
LEAD, FOLLOW, FINISHED, TAKE_OVER = "lead", "follow", "finished", "take-over"


def _identity():
    """This process, as leases name it: host, pid and a per-start token (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def on_this_host(leader):
    """Whether a lease's `leader` (an identity as `_identity` makes it) runs on this host."""
    return leader.rsplit(":", 2)[0] == PROCESS.rsplit(":", 2)[0]


PROCESS = _identity()


_heartbeats = None  # the executor whose one thread writes this process's heartbeats


def _renew_identity():
    # Django setup imports this module in gunicorn's arbiter (viewsets -> tasks -> pullthrough):
    # each forked content worker must be a process of its own, or two workers would both think
    # they lead the same download. A forked child has none of its parent's threads.
    global PROCESS, _heartbeats
    PROCESS = _identity()
    _heartbeats = None


def _in_heartbeat_thread(function, *args):
    global _heartbeats
    if _heartbeats is None:
        _heartbeats = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-lease-heartbeat")
    return asyncio.get_running_loop().run_in_executor(_heartbeats, function, *args)


def _beat(pk, generation):
    close_old_connections()  # this thread's connection: reconnect after a database restart
    return (
        UpstreamLease.objects.filter(
            pk=pk, leader=PROCESS, generation=generation, state=RUNNING
        ).update(heartbeat=Now())
        == 1
    )


def _with_age(rows):
    """Lease rows with `age`: the time since their heartbeat, by the database's clock."""
    return rows.annotate(
        age=ExpressionWrapper(Now() - F("heartbeat"), output_field=DurationField())
    )


os.register_at_fork(after_in_child=_renew_identity)


def live_paths(paths):
    """Those of `paths` that a running lease names whose leader still beats its heartbeat."""
    rows = _with_age(UpstreamLease.objects.filter(state=RUNNING, path__in=list(paths)))
    rows = rows.filter(age__lt=timedelta(seconds=LEASE_TIMEOUT))
    return set(rows.values_list("path", flat=True))


def lease_key(*parts):
    return hashlib.sha256(json.dumps([str(part) for part in parts]).encode()).hexdigest()


def decide(state, heartbeat_age, leader, generation, waited_generation=None):
    """What a process does about a lease it found.

    - `LEAD`: the lease is this process's own.
    - `FOLLOW`: another process works on it and beats its heartbeat.
    - `FINISHED`: the lease this process waited for (`waited_generation`), or one that took it
      over, ended: its result (or its error) is what this process reports too.
    - `TAKE_OVER`: nobody works on it (the leader stopped beating, or an earlier lease ended
      before this process came): take it, and ask upstream.
    """
    if leader == PROCESS and state == RUNNING:
        return LEAD
    if state == RUNNING and heartbeat_age < LEASE_TIMEOUT:
        return FOLLOW
    finished = state in (DONE, FAILED) and waited_generation is not None
    if finished and generation >= waited_generation:
        return FINISHED
    return TAKE_OVER


@dataclass
class Lease:
    """A lease as one process sees it; `private`: not in the database (see `private`)."""

    pk: int
    generation: int
    mine: bool
    path: str = ""
    private: bool = False

    async def beat(self):
        """Renew the heartbeat; False when another process took the lease over."""
        if self.private:
            return True
        return await _in_heartbeat_thread(_beat, self.pk, self.generation)

    async def finish(self, error=None):
        if self.private:
            return
        values = {"state": FAILED if error else DONE, "heartbeat": Now()}
        values["outcome"] = error or {}
        await UpstreamLease.objects.filter(
            pk=self.pk, leader=PROCESS, generation=self.generation
        ).aupdate(**values)

    async def move(self, path):
        """Point the lease's followers at another file (a body download's)."""
        self.path = path
        await UpstreamLease.objects.filter(pk=self.pk, leader=PROCESS).aupdate(path=path)

    async def keep_alive(self):
        """Beat the heartbeat until cancelled or until the lease is lost."""
        while await self.beat():
            await asyncio.sleep(HEARTBEAT)
        log.warning("Lease %s was taken over by another process.", self.pk)


def private(path):
    """A lease of this process alone, for work it cannot share (nothing is written)."""
    return Lease(0, 0, True, path, private=True)


def _age(row):
    return row.age.total_seconds()


async def acquire(remote, key, path=""):
    """Take the lease for `key`, or find who has it: a `Lease`, `mine` when this process leads."""
    try:
        row = await UpstreamLease.objects.acreate(
            remote=remote, key=key, leader=PROCESS, heartbeat=Now(), state=RUNNING, path=path
        )
        return Lease(row.pk, row.generation, True, path)
    except IntegrityError:
        pass
    return await join(remote, key, path, waited_generation=None)


async def join(remote, key, path, waited_generation):
    """The lease for `key` as it is now; `waited_generation`: the one this process followed."""
    row = await _with_age(UpstreamLease.objects.filter(remote=remote, key=key)).afirst()
    if row is None:  # deleted meanwhile (its remote changed): start anew
        return await acquire(remote, key, path)
    action = decide(row.state, _age(row), row.leader, row.generation, waited_generation)
    if action == TAKE_OVER:
        return await take_over(row, path) or await join(remote, key, path, waited_generation)
    return Lease(row.pk, row.generation, action == LEAD, row.path)


async def take_over(row, path=""):
    """Become the leader of a lease nobody works on; None if another process was faster."""
    taken = await UpstreamLease.objects.filter(pk=row.pk, generation=row.generation).aupdate(
        leader=PROCESS,
        generation=row.generation + 1,
        heartbeat=Now(),
        state=RUNNING,
        path=path,
        outcome={},
    )
    if taken != 1:
        return None
    if row.state == RUNNING:
        log.warning("Took over lease %s from %s (no heartbeat).", row.pk, row.leader)
    return Lease(row.pk, row.generation + 1, True, path)


async def watch(lease):
    """The lease's row now: (action, row) for a follower (see `decide`)."""
    row = await _with_age(UpstreamLease.objects.filter(pk=lease.pk)).afirst()
    if row is None:
        return TAKE_OVER, None
    action = decide(row.state, _age(row), row.leader, row.generation, lease.generation)
    return action, row


# --- facts: one upstream request per fact, for all processes --------------------------------

POLL_INTERVAL = 0.05  # seconds between a follower's looks, doubling up to POLL_MAX
POLL_MAX = 0.4


def outcome_of(error):
    """A failed lease's error, as followers re-raise it."""
    if isinstance(error, hub.HubError):
        return {
            "kind": "hub",
            "status": error.status,
            "code": error.code,
            "message": hub.safe_text(error.message),
            "commit": error.commit,
        }
    if isinstance(error, UpstreamUnavailable):
        return {
            "kind": "unavailable",
            "message": hub.safe_text(str(error)),
            "status": error.status,
            "retry_after": error.retry_after,
        }
    return {"kind": "unavailable", "message": hub.safe_text(str(error) or type(error).__name__)}


def error_of(outcome):
    if outcome.get("kind") == "hub":
        return hub.HubError(
            outcome["status"], outcome["code"], outcome["message"], commit=outcome["commit"]
        )
    return UpstreamUnavailable(
        outcome.get("message", "another content app failed"),
        status=outcome.get("status"),
        retry_after=outcome.get("retry_after"),
    )


async def shared(remote, key, lookup, fetch, timeout):
    """The result of `fetch()`, asked upstream once for every content app of every host.

    `lookup()` returns what is stored already (None if nothing); `fetch()` asks upstream and
    stores it. A process that finds another one's lease waits for its result, at most
    `timeout` seconds (then `UpstreamUnavailable`), and takes over when the leader stops.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    lease = await acquire(remote, key)
    interval = POLL_INTERVAL
    while not lease.mine:
        if loop.time() >= deadline:
            raise UpstreamUnavailable(f"waited {timeout:g} s for another content app's request")
        await asyncio.sleep(min(interval, max(deadline - loop.time(), 0)))
        interval = min(interval * 2, POLL_MAX)
        found = await lookup()
        if found is not None:
            return found
        action, row = await watch(lease)
        if action == FINISHED and row.state == FAILED:
            raise error_of(row.outcome)
        if action in (FINISHED, TAKE_OVER):  # done without a stored result, or leader gone
            lease = await take_over(row) if row is not None else await acquire(remote, key)
            lease = lease or await join(remote, key, "", waited_generation=None)
        elif action == FOLLOW:
            lease.generation = row.generation  # a newer leader: its end is the one to wait for
    found = await lookup()  # stored by a lease that ended just before this one began
    if found is not None:
        await lease.finish()
        return found
    beating = loop.create_task(lease.keep_alive())
    try:
        result = await fetch()
    except BaseException as exc:
        await asyncio.shield(lease.finish(error=outcome_of(exc)))
        raise
    finally:
        beating.cancel()
    await lease.finish()
    return result
