"""The rules of what a content process may remember (`memory`), without a server."""

import pytest

from pulp_hugging_face.app import hub
from pulp_hugging_face.app.memory import ARTIFACTS, REPOSITORY, Bounded, Memory


def listening_memory():
    memory = Memory()
    memory.listening = True
    return memory


def test_bounded_drops_the_least_recently_used_entry():
    bounded = Bounded(2)
    bounded.put("a", 1)
    bounded.put("b", 2)
    bounded.get("a")
    bounded.put("c", 3)
    assert list(bounded) == ["a", "c"]


def test_bounded_counts_cost_not_entries():
    bounded = Bounded(10, cost=len)
    bounded.put("a", "12345")
    bounded.put("b", "123456")
    assert list(bounded) == ["b"] and bounded.total == 6


def test_bounded_refuses_an_entry_larger_than_its_limit():
    bounded = Bounded(4, cost=len)
    bounded.put("a", "12345")
    assert "a" not in bounded and bounded.total == 0


def test_replacing_an_entry_keeps_the_cost_right():
    bounded = Bounded(10, cost=len)
    bounded.put("a", "123")
    bounded.put("a", "12345")
    assert bounded.total == 5


def test_an_answer_read_before_a_change_is_not_kept():
    memory = listening_memory()
    read_under = memory.generation
    memory.forget()  # a change was announced while the database was being read
    assert not memory.keeps(read_under)


def test_an_answer_read_while_not_listening_is_not_kept():
    memory = Memory()
    assert not memory.keeps(memory.generation)


def test_an_answer_read_while_listening_and_unchanged_is_kept():
    memory = listening_memory()
    assert memory.keeps(memory.generation)


def test_a_configuration_change_forgets_everything():
    memory = listening_memory()
    memory.distributions = {("d", "hf"): object()}
    memory.domains["default"] = object()
    memory.facts.put("k", object())
    memory.revisions.put("r", ("c" * 40, None))
    memory.forget()
    assert memory.distributions is None
    assert not memory.domains and not memory.facts and not memory.revisions


def test_a_new_repository_version_forgets_only_that_repository():
    memory = listening_memory()
    memory.distributions = {}
    memory.in_repository.put(("repo-1", "content-1"), True)
    memory.in_repository.put(("repo-2", "content-1"), True)
    memory.facts.put("k", object())
    memory.forget(REPOSITORY, "repo-1")
    assert list(memory.in_repository) == [("repo-2", "content-1")]
    assert memory.distributions == {} and "k" in memory.facts


def test_removed_artifacts_forget_stored_files_but_not_facts():
    memory = listening_memory()
    memory.stored_files.put("file", (object(), 0.0))
    memory.facts.put("k", object())
    memory.forget(ARTIFACTS)
    assert not memory.stored_files and "k" in memory.facts


def test_removed_artifacts_forget_the_bytes_of_small_files():
    memory = listening_memory()
    memory.bodies.put("/media/artifact/ab/cdef", (b"{}", 0.0))
    memory.forget(ARTIFACTS)
    assert not memory.bodies and memory.bodies.total == 0


def test_small_file_bytes_are_bounded_by_their_size():
    memory = listening_memory()
    memory.bodies.limit = 250
    memory.bodies.put("a", (b"x" * 100, 0.0))
    memory.bodies.put("b", (b"y" * 100, 0.0))  # 200 bytes each with the entry's overhead
    assert list(memory.bodies) == ["b"]


@pytest.mark.parametrize(
    "path, candidates",
    [
        (
            "hf/org/model/resolve/main/config.json",
            [
                "hf/org/model/resolve/main/config.json",
                "hf/org/model/resolve/main",
                "hf/org/model/resolve",
                "hf/org/model",
                "hf/org",
                "hf",
            ],
        ),
        ("a/b", ["a/b", "a"]),
        ("a/", ["a"]),
    ],
)
def test_base_path_candidates_are_every_prefix_longest_first(path, candidates):
    assert list(hub.base_path_candidates(path)) == candidates
