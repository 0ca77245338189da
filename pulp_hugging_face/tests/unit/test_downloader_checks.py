"""What a file body download checks before it is stored (`downloaders`): size, sha256 and the git
blob id, from what was hashed as the bytes streamed; and the file is whole on disk."""

import asyncio
import hashlib

import pytest

from pulpcore.plugin.exceptions import DigestValidationError, SizeValidationError

from pulp_hugging_face.app.downloaders import HubDownloader

BODY = b"weights" * 1000


def download(target, pieces, verified=None, **expected):
    """Write `pieces` as batches of the hub's answer would arrive, then finalize."""

    async def scenario():
        downloader = HubDownloader(
            "http://hub.invalid/org/model/resolve/main/x.bin",
            target_path=str(target),
            on_verified=verified,
            **expected,
        )
        try:
            for piece in pieces:
                await downloader.handle_data(piece)
            await downloader.finalize()
        finally:
            await downloader.session.close()

    asyncio.run(scenario())
    return target.read_bytes()


@pytest.fixture(autouse=True)
def working_directory(tmp_path, settings):
    settings.WORKING_DIRECTORY = str(tmp_path)


def test_a_body_with_the_right_size_and_digest_is_kept_whole(tmp_path):
    stored = download(
        tmp_path / "x.part",
        [BODY],
        expected_digests={"sha256": hashlib.sha256(BODY).hexdigest()},
        expected_size=len(BODY),
    )
    assert stored == BODY


def test_readers_are_told_when_the_body_is_checked_and_every_byte_is_in_the_file(tmp_path):
    target = tmp_path / "x.part"
    seen = []
    download(
        target,
        [BODY[:100], BODY[100:]],
        verified=lambda: seen.append(target.read_bytes()),
        expected_digests={"sha256": hashlib.sha256(BODY).hexdigest()},
        expected_size=len(BODY),
    )
    assert seen == [BODY]


def test_a_body_with_a_wrong_digest_is_never_reported_checked(tmp_path):
    seen = []
    with pytest.raises(DigestValidationError):
        download(
            tmp_path / "x.part",
            [BODY],
            verified=lambda: seen.append(True),
            expected_digests={"sha256": hashlib.sha256(b"other").hexdigest()},
        )
    assert seen == []


def test_a_body_with_a_wrong_digest_is_refused(tmp_path):
    with pytest.raises(DigestValidationError):
        download(
            tmp_path / "x.part",
            [BODY],
            expected_digests={"sha256": hashlib.sha256(b"other").hexdigest()},
            expected_size=len(BODY),
        )


def test_a_body_of_the_wrong_size_is_refused(tmp_path):
    with pytest.raises(SizeValidationError):
        download(tmp_path / "x.part", [BODY[:-1]], expected_size=len(BODY))


def test_a_body_with_a_wrong_git_blob_id_is_refused(tmp_path):
    with pytest.raises(DigestValidationError):
        download(tmp_path / "x.part", [BODY], expected_git_blob_sha1="0" * 40)


def test_a_body_with_the_right_git_blob_id_is_kept(tmp_path):
    blob_id = hashlib.sha1(b"blob %d\0" % len(BODY) + BODY).hexdigest()
    stored = download(
        tmp_path / "x.part", [BODY], expected_git_blob_sha1=blob_id, expected_size=len(BODY)
    )
    assert stored == BODY
