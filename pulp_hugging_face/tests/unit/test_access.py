"""`pulp_hugging_face/app/access.py`: last access noted in memory, written in batches."""

import asyncio

import pytest

from pulp_hugging_face.app import access, cache_stats, hub

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


# --- answer counts -----------------------------------------------------------------------------


class Answer:
    """What `count_answer` reads of a response."""

    def __init__(self, status=200, content_length=None):
        self.status = status
        self.content_length = content_length


class Request(dict):
    def __init__(self, method="GET"):
        super().__init__()
        self.method = method


@pytest.fixture
def traffic(monkeypatch):
    monkeypatch.setattr(access, "_traffic", {})
    monkeypatch.setattr(access, "_flusher", None)
    monkeypatch.setattr(access, "_start", lambda: None)
    return lambda: access._traffic


def answer(method, outcome, response, redirected_bytes=0):
    request = Request(method)
    access.note_answer(request, "remote", outcome, redirected_bytes)
    asyncio.run(access.count_answer(request, response))


def test_a_warm_get_counts_a_hit_and_its_bytes_from_storage(traffic):
    answer("GET", "hit", Answer(200, 612))
    assert traffic() == {"remote": [1, 0, 0, 612, 0]}


def test_a_cold_get_counts_a_miss_and_its_bytes_from_upstream(traffic):
    answer("GET", "miss", Answer(200, 612))
    assert traffic() == {"remote": [0, 1, 0, 0, 612]}


def test_a_redirect_to_the_object_store_counts_the_file_size(traffic):
    answer("GET", "hit", Answer(302, 0), redirected_bytes=90_900_000)
    assert traffic() == {"remote": [1, 0, 0, 90_900_000, 0]}


def test_a_head_counts_an_answer_and_no_bytes(traffic):
    answer("HEAD", "stale", Answer(200, 612))
    assert traffic() == {"remote": [0, 0, 1, 0, 0]}


def test_an_error_answer_is_not_counted(traffic):
    answer("GET", "miss", Answer(502, 80))
    assert traffic() == {}


def test_an_unmarked_answer_is_not_counted(traffic):
    asyncio.run(access.count_answer(Request("GET"), Answer(200, 612)))
    assert traffic() == {}


def test_counts_that_could_not_be_written_are_added_to_the_next_flush(traffic, monkeypatch):
    def refuse(counts):
        raise RuntimeError("database gone")

    monkeypatch.setattr(access, "add_traffic", refuse)
    answer("GET", "hit", Answer(200, 10))
    asyncio.run(access.flush())
    answer("GET", "hit", Answer(200, 5))
    assert traffic() == {"remote": [2, 0, 0, 15, 0]}


def test_the_hit_ratio_counts_stale_answers_as_answered_from_the_cache():
    counts = {"hits": 6, "misses": 2, "stale": 2}
    assert cache_stats.requests_of(counts) == {
        "hit": 6,
        "miss": 2,
        "stale": 2,
        "total": 10,
        "hit_ratio": 0.8,
    }


def test_the_hit_ratio_is_none_before_any_answer():
    assert (
        cache_stats.requests_of({"hits": None, "misses": None, "stale": None})["hit_ratio"] is None
    )


def test_an_answer_of_another_kind_is_not_counted(traffic):
    answer("GET", "version", Answer(200, 612))
    assert traffic() == {}
