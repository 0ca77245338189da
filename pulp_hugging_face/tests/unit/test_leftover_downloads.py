"""Download files that stopped content apps left behind are removed; no other file is."""

from pulp_hugging_face.app.pullthrough import LEFTOVER_AGE, leftovers

NOW = 1_000_000.0


def test_an_old_file_of_no_live_lease_is_a_leftover():
    assert leftovers([("a.part", NOW - LEFTOVER_AGE - 1)], live=set(), now=NOW) == ["a.part"]


def test_a_file_written_to_lately_is_kept():
    assert leftovers([("a.part", NOW - 60)], live=set(), now=NOW) == []


def test_an_old_file_that_a_live_lease_names_is_kept():
    # a leader that beats its heartbeat but has had no byte for long: its readers follow the file
    assert leftovers([("a.part", NOW - 10 * LEFTOVER_AGE)], live={"a.part"}, now=NOW) == []
