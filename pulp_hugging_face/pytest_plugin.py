"""Fixtures for functional tests of pulp_hugging_face against a live Pulp.

Built on pulpcore's pytest plugin (`gen_object_with_cleanup`, `monitor_task`, ...). The plugin's
REST API is driven through pulp-glue, which reads the live OpenAPI schema, so no generated client
package is needed (pulp-smash is retired upstream and not installable).
"""

import json
import os
import subprocess
import sys
import textwrap
import uuid
from types import SimpleNamespace

import pytest

API_PREFIXES = {
    "RemotesHuggingFaceApi": "remotes_hugging_face_hugging_face",
    "DistributionsHuggingFaceApi": "distributions_hugging_face_hugging_face",
    "RepositoriesHuggingFaceApi": "repositories_hugging_face_hugging_face",
    "RepositoriesHuggingFaceVersionsApi": "repositories_hugging_face_hugging_face_versions",
    "ContentHuggingFaceApi": "content_hugging_face_hugging_face",
    "ContentguardsTokenApi": "contentguards_hugging_face_token",
    # pulpcore's own, through pulp-glue: the PyPI pulpcore-client does not know domain URLs.
    "DomainsApi": "domains",
}
HREF_PARAMS = {
    "remotes_hugging_face_hugging_face": "hugging_face_hugging_face_remote_href",
    "distributions_hugging_face_hugging_face": "hugging_face_hugging_face_distribution_href",
    "repositories_hugging_face_hugging_face": "hugging_face_hugging_face_repository_href",
    "repositories_hugging_face_hugging_face_versions": (
        "hugging_face_hugging_face_repository_version_href"
    ),
    "content_hugging_face_hugging_face": "hugging_face_hugging_face_content_href",
    "contentguards_hugging_face_token": "hugging_face_hugging_face_token_content_guard_href",
    "domains": "domain_href",
}


def to_namespace(value):
    """JSON answers as attribute objects, the shape pulpcore's fixtures expect of bindings."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: to_namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_namespace(v) for v in value]
    return value


class GlueApi:
    """create/read/list/partial_update/delete over pulp-glue for one endpoint."""

    def __init__(self, ctx, prefix):
        self.ctx = ctx
        self.prefix = prefix
        self.href_param = HREF_PARAMS[prefix]

    def _call(self, operation, **kwargs):
        return self.ctx.call(f"{self.prefix}_{operation}", **kwargs)

    def create(self, body, **parameters):
        result = self._call("create", body=body, parameters=parameters or None)
        if "pulp_href" in result:
            return to_namespace(result)
        # A task: pulpcore's gen_object_with_cleanup reads `.task` and monitors it.
        return SimpleNamespace(task=result["pulp_href"])

    def read(self, href):
        return to_namespace(self._call("read", parameters={self.href_param: href}))

    def list(self, **parameters):
        return to_namespace(self._call("list", parameters=parameters))

    def partial_update(self, href, body):
        """Waits for the update task; returns the updated object."""
        return to_namespace(
            self._call("partial_update", parameters={self.href_param: href}, body=body)
        )

    def delete(self, href):
        result = self._call("delete", parameters={self.href_param: href})
        return SimpleNamespace(task=(result or {}).get("pulp_href"))


def glue_context(bindings_cfg, domain="default"):
    from pulp_glue.common.context import PulpContext

    return PulpContext(
        api_root=os.environ.get("PULP_API_ROOT", "/pulp/"),
        api_kwargs={
            "base_url": bindings_cfg.host,
            "username": bindings_cfg.username,
            "password": bindings_cfg.password,
            # pulp-glue caches the schema per URL; a rebuilt server may have new endpoints.
            "refresh_cache": True,
        },
        background_tasks=False,
        timeout=300,
        domain=domain,
    )


def glue_bindings(context):
    return SimpleNamespace(
        **{name: GlueApi(context, prefix) for name, prefix in API_PREFIXES.items()}
    )


@pytest.fixture(scope="session")
def hugging_face_bindings(bindings_cfg):
    return glue_bindings(glue_context(bindings_cfg))


@pytest.fixture(scope="class")
def hf_domain_factory(hugging_face_bindings, backend_settings_factory, gen_object_with_cleanup):
    """A new Pulp domain with the installation's storage (needs DOMAIN_ENABLED)."""

    def _factory():
        storage_class, storage_settings = backend_settings_factory()
        body = {
            "name": str(uuid.uuid4()),
            "storage_class": storage_class,
            "storage_settings": storage_settings,
        }
        return gen_object_with_cleanup(hugging_face_bindings.DomainsApi, body)

    return _factory


@pytest.fixture(scope="session")
def hugging_face_domain_bindings(bindings_cfg):
    """`hugging_face_domain_bindings(domain_name)`: the plugin's API inside a Pulp domain."""
    return lambda domain: glue_bindings(glue_context(bindings_cfg, domain))


@pytest.fixture(scope="class")
def hf_remote_factory(hugging_face_bindings, gen_object_with_cleanup, fake_hub):
    def _factory(**kwargs):
        body = {"name": str(uuid.uuid4()), "url": fake_hub.url}
        body.update(kwargs)
        return gen_object_with_cleanup(hugging_face_bindings.RemotesHuggingFaceApi, body)

    return _factory


@pytest.fixture(scope="class")
def hf_repository_factory(hugging_face_bindings, gen_object_with_cleanup):
    def _factory(**kwargs):
        body = {"name": str(uuid.uuid4())}
        body.update(kwargs)
        return gen_object_with_cleanup(hugging_face_bindings.RepositoriesHuggingFaceApi, body)

    return _factory


@pytest.fixture(scope="class")
def hf_token_guard_factory(hugging_face_bindings, gen_object_with_cleanup):
    def _factory(tokens, **kwargs):
        body = {"name": str(uuid.uuid4()), "tokens": tokens}
        body.update(kwargs)
        return gen_object_with_cleanup(hugging_face_bindings.ContentguardsTokenApi, body)

    return _factory


@pytest.fixture(scope="class")
def hf_distribution_factory(hugging_face_bindings, gen_object_with_cleanup, hf_remote_factory):
    def _factory(remote=None, **kwargs):
        if remote is None:
            remote = hf_remote_factory().pulp_href
        body = {"name": str(uuid.uuid4()), "base_path": str(uuid.uuid4()), "remote": remote}
        body.update(kwargs)
        return gen_object_with_cleanup(hugging_face_bindings.DistributionsHuggingFaceApi, body)

    return _factory


@pytest.fixture(scope="session")
def fake_hub():
    """The stand-in for huggingface.co: one process for the whole session."""
    from pulp_hugging_face.tests.functional.fake_hub import FakeHub

    hub = FakeHub()
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def diverged_hub():
    """A second hub that claims the same commits as `fake_hub` with other bytes for some files
    (`repos.DIVERGED_FILES`): a tampered or diverged mirror."""
    from pulp_hugging_face.tests.functional.fake_hub import FakeHub

    hub = FakeHub(variant="diverged")
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture
def hub_reset(fake_hub):
    """A fake hub with zeroed counters and no faults, before and after the test."""
    fake_hub.reset()
    fake_hub.configure(fault=None, latency=0)
    yield fake_hub
    fake_hub.configure(fault=None, latency=0)


def client_pythons():
    """Interpreters of other huggingface_hub generations, from PULP_HF_CLIENT_PYTHONS.

    Format: `label=/path/to/python,label=/path/to/python`; scripts/run-tests sets it up.
    """
    pairs = os.environ.get("PULP_HF_CLIENT_PYTHONS", "")
    return dict(pair.split("=", 1) for pair in pairs.split(",") if "=" in pair)


def run_hf_client(code, endpoint, hf_home, env=None, timeout=300, python=None):
    """Run client code in a fresh interpreter, as a user would, and return its JSON result.

    huggingface_hub reads HF_ENDPOINT and HF_HOME at import time, so every run gets its own
    process. `code` must assign the JSON-serializable `result`.
    """
    script = "import json\n" + textwrap.dedent(code) + "\nprint('RESULT:' + json.dumps(result))\n"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    run_env.update(
        {
            "HF_ENDPOINT": endpoint,
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "DISABLE_SAFETENSORS_CONVERSION": "1",
        }
    )
    run_env.update(env or {})
    proc = subprocess.run(
        [python or sys.executable, "-c", script],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,  # a failed run is reported below with its output
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT:"):
            return json.loads(line[len("RESULT:") :])
    raise AssertionError(
        f"client run failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )


@pytest.fixture
def hf_client(tmp_path_factory):
    """`hf_client(code, endpoint, env=None, hf_home=None, python=None)`: run client code."""

    def _run(code, endpoint, env=None, hf_home=None, python=None):
        hf_home = hf_home or tmp_path_factory.mktemp("hf_home")
        return run_hf_client(code, endpoint, hf_home, env=env, python=python)

    return _run


@pytest.fixture
def hf_cache_factory(hf_remote_factory, hf_distribution_factory):
    """A fresh remote + distribution (so a cold cache); returns endpoint, remote, distribution."""

    def _factory(repository=None, content_guard=None, **remote_kwargs):
        remote = hf_remote_factory(**remote_kwargs)
        extra = {"repository": repository, "content_guard": content_guard}
        distribution = hf_distribution_factory(
            remote=remote.pulp_href, **{k: v for k, v in extra.items() if v}
        )
        return SimpleNamespace(
            endpoint=distribution.base_url.rstrip("/"), remote=remote, distribution=distribution
        )

    return _factory


# ---- HTTPS, mTLS and forward-proxy infrastructure --------------------------------------------
# Session-scoped like `fake_hub`, and started only by the tests that ask for them. A remote
# points at them with:
#   https_fake_hub: url=https_fake_hub.url, ca_cert=https_fake_hub.ca_cert_pem
#   mtls_fake_hub:  url=mtls_fake_hub.url, ca_cert=mtls_fake_hub.ca_cert_pem,
#                   client_cert=mtls_fake_hub.client_cert_pem,
#                   client_key=mtls_fake_hub.client_key_pem
#   forward_proxy:  proxy_url=forward_proxy.url, proxy_username=forward_proxy.username,
#                   proxy_password=forward_proxy.password


@pytest.fixture(scope="session")
def https_fake_hub():
    """A fake hub serving every origin (hub, CDN) over HTTPS, with a CA of its own."""
    from pulp_hugging_face.tests.functional.fake_hub import FakeHub

    hub = FakeHub(tls=True)
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def mtls_fake_hub():
    """Like `https_fake_hub`, and every origin requires a client certificate from its CA."""
    from pulp_hugging_face.tests.functional.fake_hub import FakeHub

    hub = FakeHub(tls=True, client_cert_required=True)
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def forward_proxy():
    """A real forward proxy (proxy.py) on loopback that wants basic auth; `.requests()` lists
    what went through it (call `.reset()` first)."""
    from pulp_hugging_face.tests.functional.forward_proxy import ForwardProxy

    proxy = ForwardProxy(username="proxy-user", password=f"proxy-{uuid.uuid4().hex[:12]}")
    proxy.start()
    yield proxy
    proxy.close()


# ---- several content apps on one database and storage (scripts/run-tests phase `multihost`) --
# scripts/run-tests exports PULP_HF_CONTENT_URLS and PULP_HF_CONTENT_PIDFILES (app 1 first, at
# CONTENT_ORIGIN); helpers in tests/functional/multihost.py.


@pytest.fixture(scope="session")
def content_apps():
    """The content apps of the test Pulp (`multihost.ContentApp`: `url`, `pidfile`, `pids()`,
    `kill()`, `alive()`), app 1 first. A test that asks for them needs two or more: it is
    skipped with one, or fails where PULP_HF_EXPECT_CONTENT_APPS says more should run."""
    from pulp_hugging_face.tests.functional.multihost import content_apps_from_env

    apps = content_apps_from_env()
    expected = int(os.environ.get("PULP_HF_EXPECT_CONTENT_APPS") or 0)
    if len(apps) < max(expected, 2):
        message = (
            f"needs {max(expected, 2)} content apps, {len(apps)} known (PULP_HF_CONTENT_URLS): "
            "scripts/run-tests --only multihost, or scripts/local-pulp start --content-apps 2"
        )
        if expected:
            pytest.fail(message)
        pytest.skip(message)
    return apps


@pytest.fixture(scope="session")
def content_urls(content_apps):
    """The URLs of the content apps (http://host:port), app 1 (CONTENT_ORIGIN) first."""
    return [app.url for app in content_apps]


@pytest.fixture(scope="session")
def endpoint_on(content_apps):
    """`endpoint_on(cache, app)`: the HF_ENDPOINT of a distribution at one content app.

    `cache` is what `hf_cache_factory` returns, a distribution, or a URL at CONTENT_ORIGIN;
    `app` is a `ContentApp`, its 1-based index or a URL. The distribution's `base_url` has
    CONTENT_ORIGIN (app 1); the same path answers at every app."""
    from pulp_hugging_face.tests.functional.multihost import on_app

    def _endpoint(cache, app):
        if isinstance(cache, str):
            url = cache
        else:
            url = getattr(cache, "endpoint", None) or cache.base_url
        if isinstance(app, int):
            app = content_apps[app - 1]
        return on_app(url.rstrip("/"), app)

    return _endpoint


@pytest.fixture
def restore_content_apps(content_apps):
    """For tests that kill content apps: afterwards, whatever does not run is started again
    (scripts/local-pulp start on the same state dir and ports) before the next test."""
    yield content_apps
    if not all(app.alive() for app in content_apps):
        from pulp_hugging_face.tests.functional.multihost import restart_stopped_apps, wait_for

        restart_stopped_apps(os.environ["PULP_HF_STATE_DIR"])
        wait_for(lambda: all(app.answers() for app in content_apps), 120, "the content apps")


# ---- The Compatibility page (docs/user/reference/compatibility.md) ----------------------------
# Tests that try a client behaviour through the cache call `compat(client, behaviour, version)`;
# their outcomes are written to $PULP_HF_COMPAT_RESULTS at the end of the session, and
# scripts/compat-matrix turns that file into the page.

COMPAT_RESULTS = "PULP_HF_COMPAT_RESULTS"
_compat_cells = {}


@pytest.fixture
def compat(request):
    """`compat(client=..., behaviour=..., version=...)`: this test is that cell of the matrix."""

    def _record(client, behaviour, version=None):
        request.node.user_properties.append(
            ("compat", {"client": client, "behaviour": behaviour, "version": version})
        )

    return _record


def pytest_runtest_logreport(report):
    for key, cell in report.user_properties:
        if key != "compat":
            continue
        entry = _compat_cells.setdefault(report.nodeid, {**cell, "outcome": "passed"})
        if report.failed:
            entry["outcome"] = "failed"
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"


def pytest_sessionfinish(session):
    path = os.environ.get(COMPAT_RESULTS)
    if not path or hasattr(session.config, "workerinput") or not _compat_cells:
        return  # xdist workers report to the controller, which writes the file
    from importlib.metadata import version

    results = {
        "pulpcore": version("pulpcore"),
        "cells": sorted(
            _compat_cells.values(), key=lambda c: (c["client"], c["behaviour"], c["outcome"])
        ),
    }
    with open(path, "w") as fp:
        json.dump(results, fp, indent=2, sort_keys=True)
        fp.write("\n")
