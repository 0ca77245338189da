"""The process that leads a file body download (`pullthrough._run`): it downloads only what
is not stored by the time it leads, so a download that ended between a request's look at
storage and its lease is never repeated upstream."""

import asyncio
import os

from pulp_hugging_face.app import leases, pullthrough


class FakeRemote:
    pk = 1


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def lead_alone(monkeypatch, tmp_path):
    """This process takes the lease at once (a lease of its own, written nowhere)."""
    path = str(tmp_path / "download.part")
    monkeypatch.setattr(pullthrough, "_new_path", lambda domain, key: path)

    async def acquire(remote, key, path):
        return leases.private(path)

    monkeypatch.setattr(leases, "acquire", acquire)
    return path


def test_a_file_stored_before_the_lease_was_taken_is_not_downloaded_again(monkeypatch, tmp_path):
    path = lead_alone(monkeypatch, tmp_path)
    fetched = []

    async def fetch(path, current):
        fetched.append(path)

    async def stored():
        return "the content artifact another download stored"

    async def scenario():
        current = pullthrough.Download(size=3)
        await pullthrough._run(current, FakeRemote(), "https://hub/f", None, fetch, stored)
        return current

    current = run(scenario())
    assert fetched == []
    assert current.succeeded  # its readers serve the file from storage
    assert not os.path.exists(path)  # no temporary file left behind


def test_a_file_not_stored_when_the_lease_is_taken_is_downloaded_into_the_leases_file(
    monkeypatch, tmp_path
):
    path = lead_alone(monkeypatch, tmp_path)
    fetched = []

    async def fetch(into, current):
        fetched.append(into)

    async def stored():
        return None

    async def scenario():
        current = pullthrough.Download(size=3)
        await pullthrough._run(current, FakeRemote(), "https://hub/f", None, fetch, stored)
        return current

    monkeypatch.setattr(pullthrough, "check_room", lambda domain, path, size: None)
    current = run(scenario())
    assert fetched == [path]
    assert current.succeeded
