"""A download that cannot be stored is refused with a 507, before or while it runs."""

import errno
import shutil
from types import SimpleNamespace

import pytest

from pulp_hugging_face.app import hub, pullthrough

FILESYSTEM = SimpleNamespace(storage_class=pullthrough.FILESYSTEM_STORAGE)
OBJECT_STORAGE = SimpleNamespace(storage_class="storages.backends.s3boto3.S3Boto3Storage")


def free_space(monkeypatch, by_place):
    def disk_usage(place):
        return SimpleNamespace(total=0, used=0, free=by_place[str(place)])

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


@pytest.fixture
def media_root(monkeypatch, tmp_path):
    root = tmp_path / "media"
    monkeypatch.setattr(pullthrough.settings, "MEDIA_ROOT", str(root), raising=False)
    return str(root)


def test_a_file_larger_than_the_free_space_where_it_is_written_is_refused(
    monkeypatch, tmp_path, media_root
):
    free_space(monkeypatch, {str(tmp_path): 100, media_root: 10**9})
    with pytest.raises(hub.HubError) as refused:
        pullthrough.check_room(FILESYSTEM, str(tmp_path / "x.part"), 101)
    assert refused.value.status == 507
    assert "101 bytes needed, 100 free" in refused.value.message


def test_filesystem_storage_also_needs_room_where_files_are_stored(
    monkeypatch, tmp_path, media_root
):
    free_space(monkeypatch, {str(tmp_path): 10**9, media_root: 5})
    with pytest.raises(hub.HubError) as refused:
        pullthrough.check_room(FILESYSTEM, str(tmp_path / "x.part"), 6)
    assert refused.value.status == 507


def test_object_storage_only_needs_room_where_the_download_is_written(
    monkeypatch, tmp_path, media_root
):
    free_space(monkeypatch, {str(tmp_path): 10})
    pullthrough.check_room(OBJECT_STORAGE, str(tmp_path / "x.part"), 10)


def test_a_file_that_fits_exactly_is_accepted(monkeypatch, tmp_path, media_root):
    free_space(monkeypatch, {str(tmp_path): 10, media_root: 10})
    pullthrough.check_room(FILESYSTEM, str(tmp_path / "x.part"), 10)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_disk_that_fills_during_a_download_is_a_507(code):
    error = pullthrough.download_error(OSError(code, "No space left on device"))
    assert error.status == 507 and "storage is full" in error.message


def test_other_os_errors_are_not_reported_as_a_full_disk():
    error = pullthrough.download_error(OSError(errno.EACCES, "Permission denied"))
    assert error.status != 507
