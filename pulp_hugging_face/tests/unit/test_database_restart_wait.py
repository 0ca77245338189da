"""New database connections wait out a PostgreSQL restart, within one budget per outage."""

import pytest
from psycopg import OperationalError, pq

from pulp_hugging_face.app.postgresql.base import Outage, connect_waiting


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Server:
    """A server that answers pings with `pings` in turn and accepts a connection after `down` tries."""

    def __init__(self, pings, down):
        self.pings, self.down = list(pings), down
        self.attempts = 0

    def connect(self):
        self.attempts += 1
        if self.attempts <= self.down:
            raise OperationalError("connection failed")
        return "connection"

    def ping(self):
        return self.pings.pop(0) if len(self.pings) > 1 else self.pings[0]


def waiting_connect(server, outage, clock):
    return connect_waiting(server.connect, server.ping, outage, sleep=clock.sleep)


def test_a_server_that_is_restarting_is_waited_for():
    clock = Clock()
    server = Server([pq.Ping.NO_RESPONSE] * 8 + [pq.Ping.REJECT] * 4, down=12)
    assert waiting_connect(server, Outage(15, clock), clock) == "connection"
    assert server.attempts == 13
    assert clock.now == pytest.approx(3.0)


def test_a_server_that_stays_down_fails_once_the_wait_is_spent():
    clock = Clock()
    server = Server([pq.Ping.NO_RESPONSE], down=10**6)
    with pytest.raises(OperationalError):
        waiting_connect(server, Outage(15, clock), clock)
    assert clock.now == pytest.approx(15.0)


def test_a_server_that_accepts_connections_is_not_waited_for():
    # The server is up, so the failure is of another kind (a wrong password): no waiting. One
    # more attempt, as it may have come up between the failed attempt and the ping.
    clock = Clock()
    server = Server([pq.Ping.OK], down=10**6)
    with pytest.raises(OperationalError):
        waiting_connect(server, Outage(15, clock), clock)
    assert server.attempts == 2
    assert clock.now == 0


def test_wrong_connection_parameters_are_not_waited_for():
    clock = Clock()
    server = Server([pq.Ping.NO_ATTEMPT], down=10**6)
    with pytest.raises(OperationalError):
        waiting_connect(server, Outage(15, clock), clock)
    assert server.attempts == 1


def test_a_server_that_comes_up_between_an_attempt_and_its_ping_is_connected_to():
    clock = Clock()
    server = Server([pq.Ping.REJECT, pq.Ping.OK], down=2)
    assert waiting_connect(server, Outage(15, clock), clock) == "connection"
    assert server.attempts == 3


def test_all_threads_of_a_process_share_one_outage_budget():
    clock = Clock()
    outage = Outage(15, clock)
    first = Server([pq.Ping.NO_RESPONSE], down=10**6)
    with pytest.raises(OperationalError):
        waiting_connect(first, outage, clock)
    # Later in the same outage a connection fails at once: no request waits the budget again.
    clock.now += 30
    later = Server([pq.Ping.NO_RESPONSE], down=10**6)
    with pytest.raises(OperationalError):
        waiting_connect(later, outage, clock)
    assert later.attempts == 1


def test_a_connection_ends_the_outage_and_the_next_one_gets_the_whole_wait():
    clock = Clock()
    outage = Outage(15, clock)
    with pytest.raises(OperationalError):
        waiting_connect(Server([pq.Ping.NO_RESPONSE], down=10**6), outage, clock)
    assert waiting_connect(Server([pq.Ping.OK], down=0), outage, clock) == "connection"
    start = clock.now
    assert waiting_connect(Server([pq.Ping.NO_RESPONSE], down=20), outage, clock) == "connection"
    assert clock.now - start == pytest.approx(5.0)


def test_the_remaining_wait_counts_from_the_first_failure():
    clock = Clock()
    outage = Outage(15, clock)
    assert outage.remaining() == 15
    clock.now = 10
    assert outage.remaining() == 5
    clock.now = 20
    assert outage.remaining() == 0
    outage.ended()
    assert outage.remaining() == 15


def test_a_failure_of_another_kind_does_not_spend_the_wait_of_a_later_outage():
    clock = Clock()
    outage = Outage(15, clock)
    with pytest.raises(OperationalError):
        waiting_connect(Server([pq.Ping.OK], down=10**6), outage, clock)  # a wrong password
    clock.now += 60
    assert waiting_connect(Server([pq.Ping.NO_RESPONSE], down=4), outage, clock) == "connection"
