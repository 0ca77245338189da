"""Django's PostgreSQL backend whose new connections wait out a server restart (see __init__)."""

import functools
import logging
import threading
import time

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import OperationalError, pq
from psycopg.conninfo import make_conninfo

log = logging.getLogger(__name__)

DEFAULT_RESTART_WAIT = 15.0  # seconds; under CONTENT_APP_TTL (30) minus a heartbeat interval (7)
PING_TIMEOUT = 2  # seconds libpq may take to reach the server for one ping
# Keys of the connection parameters that say where the server is (a ping needs no more).
PING_KEYS = ("host", "hostaddr", "port", "connect_timeout", "sslmode", "target_session_attrs")


def server_is_restarting(ping):
    """Whether a failed connection is worth waiting for, from libpq's ping of the server.

    REJECT: the server runs but takes no connections (starting up, shutting down, recovering).
    NO_RESPONSE: nothing answered (stopped, restarting, a failover in progress). OK means it
    accepts connections, so the failure was of another kind (password, database name), and
    NO_ATTEMPT means the parameters are wrong: neither gets better by waiting.
    """
    return ping in (pq.Ping.REJECT, pq.Ping.NO_RESPONSE)


class Outage:
    """How long this process may still wait for the database, shared by all its threads.

    One outage costs at most `wait` seconds in all: a thread that begins to wait late in it gets
    what is left, and once it is spent, connections fail at once until one succeeds again. So a
    database that stays down does not hold every request of a process for the whole wait in
    turn, and pulpcore's heartbeat gives up within the wait.
    """

    def __init__(self, wait, clock=time.monotonic):
        self.wait, self.clock = wait, clock
        self.began = None
        self._lock = threading.Lock()

    def remaining(self):
        """Seconds left to wait in this outage; the first call of an outage starts it."""
        with self._lock:
            now = self.clock()
            if self.began is None:
                self.began = now
            return max(0.0, self.began + self.wait - now)

    def ended(self):
        with self._lock:
            self.began = None


def connect_waiting(connect, ping, outage, sleep=time.sleep, step=0.25):
    """`connect()`, retried while `ping()` says the server is restarting and `outage` allows."""
    waited = retried = False
    while True:
        try:
            connection = connect()
        except OperationalError:
            state = ping()
            if state == pq.Ping.OK and not retried:
                retried = True  # it may have come up between the attempt and the ping
                continue
            if not server_is_restarting(state):
                raise
            left = outage.remaining()
            if left <= 0:
                raise
            if not waited:
                log.warning(
                    "The database does not accept connections (%s); waiting up to %.0f s.",
                    pq.Ping(state).name,
                    left,
                )
            waited, retried = True, False
            sleep(min(step, left))
            continue
        if waited:
            log.warning("The database accepts connections again.")
        outage.ended()
        return connection


@functools.cache
def _process_outage():
    return Outage(
        float(getattr(settings, "HUGGING_FACE_DATABASE_RESTART_WAIT", DEFAULT_RESTART_WAIT))
    )


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        if self.pool:  # psycopg_pool waits for connections itself
            return super().get_new_connection(conn_params)

        def ping():
            where = {key: conn_params[key] for key in PING_KEYS if key in conn_params}
            where.setdefault("connect_timeout", PING_TIMEOUT)
            return pq.PGconn.ping(make_conninfo(**where).encode())

        return connect_waiting(
            lambda: super(DatabaseWrapper, self).get_new_connection(conn_params),
            ping,
            _process_outage(),
        )
