"""Readers of a download in progress (`pullthrough`): they follow the file as it grows, move to
the new file when another process takes the download over, and never need a server."""

import asyncio

import pytest

from pulp_hugging_face.app import hub
from pulp_hugging_face.app.pullthrough import (
    EARLY_END_SIZE,
    FAR_RANGE,
    Download,
    _Reader,
    range_apart,
)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def test_a_reader_sees_the_file_grow(tmp_path):
    async def scenario():
        path = tmp_path / "a.part"
        path.write_bytes(b"abc")
        current = Download(size=6)
        current.follow(str(path))
        reader = _Reader(current)
        assert await reader.open()
        assert await reader.available() == 3
        path.write_bytes(b"abcdef")  # the leader wrote on
        assert await reader.available() == 6
        assert await reader.read(2, 4) == b"cdef"
        await reader.close()

    run(scenario())


def test_a_reader_moves_to_the_file_of_a_new_leader_at_its_position(tmp_path):
    async def scenario():
        old, new = tmp_path / "old.part", tmp_path / "new.part"
        old.write_bytes(b"0123")
        current = Download(size=8)
        current.follow(str(old))
        reader = _Reader(current)
        assert await reader.open()
        assert await reader.read(0, 4) == b"0123"
        new.write_bytes(b"01234567")  # the new leader downloads the same bytes again
        current.follow(str(new))
        await reader.follow()
        assert reader.path == str(new)
        assert await reader.read(4, 4) == b"4567"
        await reader.close()

    run(scenario())


def test_a_reader_keeps_the_old_file_until_the_new_leader_has_created_its_own(tmp_path):
    async def scenario():
        old = tmp_path / "old.part"
        old.write_bytes(b"01")
        current = Download(size=4)
        current.follow(str(old))
        reader = _Reader(current)
        assert await reader.open()
        current.follow(str(tmp_path / "not-yet.part"))
        await reader.follow()
        assert reader.path == str(old)
        await reader.close()

    run(scenario())


def test_a_reader_waits_for_the_file_to_appear(tmp_path):
    async def scenario():
        path = tmp_path / "late.part"
        current = Download(size=1)
        current.follow(str(path))
        reader = _Reader(current)
        opening = asyncio.ensure_future(reader.open())
        await asyncio.sleep(0.05)
        assert not opening.done()
        path.write_bytes(b"x")
        current.notify()
        assert await opening
        await reader.close()

    run(scenario())


def test_a_reader_of_a_download_that_was_stored_meanwhile_is_told_so(tmp_path):
    async def scenario():
        current = Download(size=1)
        current.follow(str(tmp_path / "moved-into-storage.part"))
        current.finish()
        assert await _Reader(current).open() is False

    run(scenario())


def test_a_reader_of_a_failed_download_gets_its_error(tmp_path):
    async def scenario():
        current = Download(size=1)
        current.follow(str(tmp_path / "removed.part"))
        current.finish(hub.HubError(502, hub.UPSTREAM_UNAVAILABLE, "broken"))
        with pytest.raises(hub.HubError, match="broken"):
            await _Reader(current).open()

    run(scenario())


def test_changed_wakes_on_news_and_returns_at_once_when_finished():
    async def scenario():
        current = Download(size=1)
        waiting = asyncio.ensure_future(current.changed(timeout=5))
        await asyncio.sleep(0.01)
        current.notify()
        await asyncio.wait_for(waiting, 1)
        current.finish()
        await asyncio.wait_for(current.changed(timeout=5), 0.1)
        assert current.succeeded

    run(scenario())


def test_a_small_download_is_complete_only_once_stored():
    current = Download(size=1000)
    current.verify()
    assert not current.complete
    current.finish()
    assert current.complete


def test_a_large_download_is_complete_once_checked_before_it_is_stored():
    current = Download(size=EARLY_END_SIZE)
    assert not current.complete
    current.verify()
    assert current.complete and not current.finished


def test_a_download_that_failed_unchecked_is_never_complete():
    for size in (1000, EARLY_END_SIZE):
        current = Download(size=size)
        current.finish(hub.HubError(502, hub.UPSTREAM_UNAVAILABLE, "broken"))
        assert not current.complete


# --- ranges far ahead of a download: fetched from upstream on their own -------------------------

MIB = 1024 * 1024


def test_a_range_within_reach_of_the_download_waits_for_it():
    assert not range_apart(start=FAR_RANGE, downloaded=0, rate=None)
    assert not range_apart(start=10 * MIB, downloaded=8 * MIB, rate=None)


def test_a_range_far_ahead_of_a_download_of_unknown_pace_is_fetched_apart():
    assert range_apart(start=FAR_RANGE + 1, downloaded=0, rate=None)


def test_a_fast_download_is_waited_for_even_far_ahead():
    # 100 MiB ahead at 100 MiB/s: a second, well within a client's read timeout.
    assert not range_apart(start=101 * MIB, downloaded=1 * MIB, rate=100 * MIB)


def test_a_slow_download_far_behind_the_range_is_not_waited_for():
    # 100 MiB ahead at 5 MiB/s: 20 s, longer than a client waits for a byte.
    assert range_apart(start=101 * MIB, downloaded=1 * MIB, rate=5 * MIB)


def test_a_range_behind_the_download_is_read_from_it():
    assert not range_apart(start=0, downloaded=50 * MIB, rate=1)


def test_a_download_counts_the_bytes_in_its_file(tmp_path):
    current = Download(size=10)
    assert current.downloaded() == 0  # no file yet
    path = tmp_path / "a.part"
    path.write_bytes(b"abcd")
    current.follow(str(path))
    assert current.downloaded() == 4
    path.unlink()  # moved into storage
    assert current.downloaded() == 0


def test_the_pace_of_a_download_is_known_after_a_first_look():
    async def scenario():
        current = Download(size=10 * MIB)
        assert current.rate(0) is None  # the first look only notes where the download is
        await asyncio.sleep(0.6)
        assert current.rate(3 * MIB) == pytest.approx(3 * MIB / 0.6, rel=0.2)

    run(scenario())


def test_an_upstream_content_range_must_be_exactly_the_range_asked_for():
    assert hub.content_range(10, 20, 100) == "bytes 10-19/100"
    assert hub.is_content_range("bytes 10-19/100", 10, 20, 100)
    assert not hub.is_content_range("bytes 10-18/100", 10, 20, 100)
    assert not hub.is_content_range("bytes 10-19/101", 10, 20, 100)
    assert not hub.is_content_range(None, 10, 20, 100)
