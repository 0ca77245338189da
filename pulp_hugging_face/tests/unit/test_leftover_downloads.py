"""Download files that stopped content apps left behind are removed; no other file is."""

from pulp_hugging_face.app.pullthrough import LEFTOVER_AGE, leftovers

NOW = 1_000_000.0


def none_live(paths):
    return set()


def test_an_old_file_of_no_live_lease_is_a_leftover():
    assert leftovers([("a.part", NOW - LEFTOVER_AGE - 1)], NOW, none_live) == ["a.part"]


def test_a_file_written_to_lately_is_kept():
    assert leftovers([("a.part", NOW - 60)], NOW, none_live) == []


def test_an_old_file_that_a_live_lease_names_is_kept():
    # a leader that beats its heartbeat but has had no byte for long: its readers follow the file
    assert leftovers([("a.part", NOW - 10 * LEFTOVER_AGE)], NOW, lambda paths: {"a.part"}) == []


def test_running_leases_are_not_asked_about_when_no_file_is_old():
    def live(paths):
        raise AssertionError(f"asked about {paths}")

    assert leftovers([("a.part", NOW - 60)], NOW, live) == []
