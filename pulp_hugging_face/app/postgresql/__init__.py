"""PostgreSQL for Pulp, with connections that wait out a database restart.

Set it as the database engine of every Pulp process (`scripts/local-pulp` does):

    DATABASES = {"default": {"ENGINE": "pulp_hugging_face.app.postgresql", ...}}

It is Django's PostgreSQL backend, except that opening a connection while the server is
restarting (it refuses connections, or says it is starting up or shutting down) waits for it,
up to `HUGGING_FACE_DATABASE_RESTART_WAIT` seconds per outage, instead of failing at once.

Why: pulpcore's content app writes a heartbeat every `CONTENT_APP_TTL` / 4 seconds and exits
when the write fails on its connection and once more on a new one. A PostgreSQL restart that
spans a heartbeat therefore stopped the whole content app, seconds after the database was back.
With this engine the second attempt's new connection waits until the server accepts
connections again, the heartbeat is written, and the app goes on without a restart. An outage
longer than the wait still ends in pulpcore's exit, as pulpcore intends for a process cut off
from its database.
"""
