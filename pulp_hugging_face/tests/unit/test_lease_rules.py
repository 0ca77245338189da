"""The lease rules of `leases.decide`: who asks upstream, who follows, who takes over."""

import os

import pytest

from pulp_hugging_face.app import leases
from pulp_hugging_face.app.leases import (
    DONE,
    FAILED,
    FINISHED,
    FOLLOW,
    LEAD,
    LEASE_TIMEOUT,
    PROCESS,
    RUNNING,
    TAKE_OVER,
    decide,
)

OTHER = "other-host:1234:abcdef12"
FRESH = LEASE_TIMEOUT / 3
STOPPED = LEASE_TIMEOUT + 0.1


def test_a_running_lease_of_this_process_is_led_here():
    assert decide(RUNNING, STOPPED, PROCESS, 1) == LEAD


def test_a_running_lease_with_a_beating_leader_is_followed():
    assert decide(RUNNING, FRESH, OTHER, 1) == FOLLOW
    assert decide(RUNNING, FRESH, OTHER, 3, waited_generation=2) == FOLLOW


def test_a_leader_that_stopped_beating_is_replaced():
    assert decide(RUNNING, STOPPED, OTHER, 1) == TAKE_OVER
    assert decide(RUNNING, STOPPED, OTHER, 1, waited_generation=1) == TAKE_OVER


@pytest.mark.parametrize("state", [DONE, FAILED])
def test_the_end_of_the_lease_a_process_waited_for_is_its_answer(state):
    assert decide(state, STOPPED, OTHER, 4, waited_generation=4) == FINISHED


@pytest.mark.parametrize("state", [DONE, FAILED])
def test_the_end_of_a_lease_that_took_over_the_awaited_one_is_its_answer(state):
    assert decide(state, FRESH, OTHER, 5, waited_generation=4) == FINISHED


@pytest.mark.parametrize("state", [DONE, FAILED])
def test_an_ended_lease_found_by_a_newcomer_is_taken_over(state):
    # Its result was looked up first and is not there (evicted, or an error): ask again.
    assert decide(state, FRESH, OTHER, 4) == TAKE_OVER


def test_an_ended_lease_of_this_process_is_not_led_again_without_taking_it():
    assert decide(DONE, FRESH, PROCESS, 2) == TAKE_OVER


def test_process_names_differ_per_start():
    host, pid, token = PROCESS.split(":")
    assert pid.isdigit() and len(token) == 8 and host


def test_lease_keys_are_digests_of_their_parts():
    key = leases.lease_key("body", "https://hub/x")
    assert len(key) == 64 and key == leases.lease_key("body", "https://hub/x")
    assert key != leases.lease_key("body", "https://hub/y")
    assert leases.lease_key("a", "b") != leases.lease_key("a\0b")


def test_a_failed_leases_error_is_raised_again_by_its_followers():
    from pulp_hugging_face.app import hub

    error = hub.HubError(404, hub.ENTRY_NOT_FOUND, "nope", commit="c" * 40)
    again = leases.error_of(leases.outcome_of(error))
    assert (again.status, again.code, again.message, again.commit) == (
        404,
        "EntryNotFound",
        "nope",
        "c" * 40,
    )

    unavailable = leases.UpstreamUnavailable("HEAD answered 429", status=429, retry_after="7")
    again = leases.error_of(leases.outcome_of(unavailable))
    assert isinstance(again, leases.UpstreamUnavailable)
    assert (str(again), again.status, again.retry_after) == ("HEAD answered 429", 429, "7")


def test_a_failed_leases_error_is_storable_whatever_upstream_said():
    from pulp_hugging_face.app import hub

    error = hub.HubError(404, None, "caf\udce9\x00 " + "m" * 2000)  # as aiohttp decodes latin-1
    message = leases.outcome_of(error)["message"]
    message.encode("utf-8")  # no lone surrogate: PostgreSQL's json accepts it
    assert "\x00" not in message and len(message) <= 512


def test_a_forked_process_has_an_identity_of_its_own():
    from pulp_hugging_face.app import leases

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a gunicorn worker forked from the arbiter sees
        os.write(write, leases.PROCESS.encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 200).decode()
    assert child != leases.PROCESS
    assert child.split(":")[1] == str(pid)


def test_a_leader_of_another_worker_on_this_host_is_on_this_host():
    host = leases.PROCESS.rsplit(":", 2)[0]
    assert leases.on_this_host(f"{host}:99999:0123abcd")


def test_a_leader_on_another_host_is_not_on_this_host():
    assert not leases.on_this_host("some-other-host.example:4242:0123abcd")
