"""What a file body download promises its readers before the file is stored (`downloaders`):
the bytes are checked before readers may end their answers, and a wrong body never is."""

import asyncio
import hashlib

import pytest

from pulpcore.plugin.exceptions import DigestValidationError, SizeValidationError

from pulp_hugging_face.app.downloaders import HubDownloader

BODY = b"weights" * 1000


def download(target, body, **expected):
    """Write `body` as the hub's answer would arrive, then finalize; returns the events."""
    events = []

    async def scenario():
        downloader = HubDownloader(
            "http://hub.invalid/org/model/resolve/main/x.bin",
            target_path=str(target),
            on_verified=lambda: events.append(("verified", target.read_bytes())),
            **expected,
        )
        try:
            await downloader.handle_data(body)
            await downloader.finalize()
            events.append("finalized")
        finally:
            await downloader.session.close()

    asyncio.run(scenario())
    return events


@pytest.fixture(autouse=True)
def working_directory(tmp_path, settings):
    settings.WORKING_DIRECTORY = str(tmp_path)


def test_readers_are_told_a_checked_body_is_complete_before_it_is_synced(tmp_path):
    target = tmp_path / "x.part"
    events = download(
        target,
        BODY,
        expected_digests={"sha256": hashlib.sha256(BODY).hexdigest()},
        expected_size=len(BODY),
    )
    assert events == [("verified", BODY), "finalized"]


def test_a_body_with_a_wrong_digest_is_never_reported_complete(tmp_path):
    with pytest.raises(DigestValidationError):
        download(
            tmp_path / "x.part",
            BODY,
            expected_digests={"sha256": hashlib.sha256(b"other").hexdigest()},
            expected_size=len(BODY),
        )


def test_a_body_of_the_wrong_size_is_never_reported_complete(tmp_path):
    with pytest.raises(SizeValidationError):
        download(tmp_path / "x.part", BODY[:-1], expected_size=len(BODY))


def test_a_body_with_a_wrong_git_blob_id_is_never_reported_complete(tmp_path):
    with pytest.raises(DigestValidationError):
        download(tmp_path / "x.part", BODY, expected_git_blob_sha1="0" * 40)


def test_a_body_with_the_right_git_blob_id_is_reported_complete(tmp_path):
    blob_id = hashlib.sha1(b"blob %d\0" % len(BODY) + BODY).hexdigest()
    events = download(
        tmp_path / "x.part", BODY, expected_git_blob_sha1=blob_id, expected_size=len(BODY)
    )
    assert events[0] == ("verified", BODY)
