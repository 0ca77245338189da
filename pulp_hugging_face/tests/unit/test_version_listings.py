"""Prefetch file selection and the listings a repository version answers with (hub.py)."""

import pytest

from pulp_hugging_face.app import hub

ENTRIES = [
    {"type": "file", "path": "config.json", "oid": "a" * 40, "size": 2},
    {"type": "directory", "path": "1_Pooling", "oid": "b" * 40, "size": 0},
    {"type": "file", "path": "1_Pooling/config.json", "oid": "c" * 40, "size": 3},
    {"type": "directory", "path": "docs", "oid": "d" * 40, "size": 0},
    {"type": "directory", "path": "docs/deep", "oid": "e" * 40, "size": 0},
    {"type": "file", "path": "docs/deep/a.txt", "oid": "f" * 40, "size": 4},
]


def paths(entries):
    return [entry["path"] for entry in entries]


@pytest.mark.parametrize(
    "path,allow,ignore,taken",
    [
        ("config.json", None, None, True),
        ("config.json", ["*.json"], None, True),
        ("1_Pooling/config.json", ["*.json"], None, True),  # fnmatch's * crosses "/"
        ("model.bin", ["*.json"], None, False),
        ("model.bin", None, ["*.bin"], False),
        ("docs/a.txt", ["docs/"], None, True),  # a folder pattern
        ("docsx/a.txt", ["docs/"], None, False),
        ("docs/a.txt", ["*.txt"], ["docs/"], False),  # ignore wins
    ],
)
def test_path_selected_follows_snapshot_download(path, allow, ignore, taken):
    assert hub.path_selected(path, allow, ignore) is taken


def test_tree_of_the_root_not_recursive_lists_the_top_level():
    assert paths(hub.tree_entries(ENTRIES, "", False)) == ["config.json", "1_Pooling", "docs"]


def test_tree_of_a_folder_recursive_lists_everything_below_it():
    assert paths(hub.tree_entries(ENTRIES, "docs", True)) == ["docs/deep", "docs/deep/a.txt"]


def test_tree_of_a_folder_not_recursive_lists_its_children():
    assert paths(hub.tree_entries(ENTRIES, "docs", False)) == ["docs/deep"]


@pytest.mark.parametrize("subpath", ["missing", "config.json", "doc"])
def test_tree_of_what_is_not_a_folder_is_none(subpath):
    assert hub.tree_entries(ENTRIES, subpath, False) is None


def test_paths_info_gives_the_known_paths_in_the_order_given():
    answer = hub.paths_info_entries(ENTRIES, ["docs", "nope", "config.json"])
    assert paths(answer) == ["docs", "config.json"]


def test_held_entries_keep_held_files_and_their_folders_only():
    held = hub.held_entries(ENTRIES, {"docs/deep/a.txt"})
    assert paths(held) == ["docs", "docs/deep", "docs/deep/a.txt"]
