"""`pulp_hugging_face/app/access.py`: last access noted in memory, written in batches."""

import asyncio

import pytest

from pulp_hugging_face.app import access, hub

REPO = hub.RepoRef("model", "org/name")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def pending(monkeypatch):
    monkeypatch.setattr(access, "_pending", {})
    monkeypatch.setattr(access, "_flusher", None)
    return lambda: access._pending


def test_a_request_only_notes_the_time_in_memory(pending, monkeypatch):
    writes = []
    monkeypatch.setattr(access, "write", writes.append)
    access.record("remote", REPO, COMMIT, "config.json")
    assert list(pending()) == [("remote", "model", "org/name", COMMIT, "config.json")]
    assert writes == []


def test_many_requests_for_one_file_are_one_row_of_the_batch(pending):
    for _ in range(1000):
        access.record("remote", REPO, COMMIT, "config.json")
    access.record("remote", REPO, COMMIT, "model.safetensors")
    assert len(pending()) == 2


def test_a_flush_writes_everything_noted_in_one_call_and_starts_afresh(pending, monkeypatch):
    writes = []
    monkeypatch.setattr(access, "write", writes.append)
    access.record("remote", REPO, COMMIT, "a")
    access.record("remote", REPO, COMMIT, "b")
    asyncio.run(access.flush())
    assert [sorted(key[-1] for key in batch) for batch in writes] == [["a", "b"]]
    assert pending() == {}


def test_a_flush_that_fails_keeps_the_times_for_the_next_one(pending, monkeypatch):
    def fail(batch):
        raise ConnectionError("database gone")

    monkeypatch.setattr(access, "write", fail)
    access.record("remote", REPO, COMMIT, "a")
    noted = dict(pending())
    asyncio.run(access.flush())
    assert pending() == noted


def test_a_request_in_the_content_app_loop_starts_the_flusher(pending, monkeypatch):
    writes = []
    monkeypatch.setattr(access, "write", writes.append)
    monkeypatch.setattr(access, "FLUSH_INTERVAL", 0.01)

    async def serve():
        access.record("remote", REPO, COMMIT, "a")
        await asyncio.sleep(0.1)
        access._flusher.cancel()

    asyncio.run(serve())
    assert len(writes) == 1
