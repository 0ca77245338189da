"""The HTTPS, mTLS and forward-proxy test infrastructure works, with no Pulp in the way.

The real huggingface_hub client runs in a subprocess (as in test_fake_hub.py) against the fake
hub in HTTPS mode; the mTLS hub and the proxy are driven with http.client, which never looks at
the environment's proxy settings (the functional phase sets NO_PROXY=127.0.0.1,localhost).
"""

import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path

import pytest

from pulp_hugging_face import pytest_plugin
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID, FakeHub
from pulp_hugging_face.tests.functional.fake_hub.repos import _commit_sha

pytest.importorskip("huggingface_hub")
pytest.importorskip("cryptography")

# What a small file's resolve redirects to (a relative 307): the answer that has the body.
CONFIG = f"/api/resolve-cache/models/{MODEL_ID}/{_commit_sha('model', MODEL_ID, 'A')}/config.json"
ENV_DROPPED = ("HF_", "HUGGING", "SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

# The fixtures of pytest_plugin.py, also when that plugin is not loaded (-p no:pulp_hugging_face).
https_fake_hub = pytest_plugin.https_fake_hub
mtls_fake_hub = pytest_plugin.mtls_fake_hub
forward_proxy = pytest_plugin.forward_proxy


@pytest.fixture(scope="module")
def plain_hub():
    """A plain-HTTP hub for the proxy's plain-HTTP path."""
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def hub(https_fake_hub):
    https_fake_hub.reset(everything=True)
    yield https_fake_hub
    https_fake_hub.reset(everything=True)


@pytest.fixture
def mtls_hub(mtls_fake_hub):
    mtls_fake_hub.reset(everything=True)
    return mtls_fake_hub


@pytest.fixture
def proxy(forward_proxy):
    forward_proxy.reset()
    return forward_proxy


@pytest.fixture
def client(tmp_path):
    """Run a snippet with the real client in a fresh interpreter; it emits one JSON result."""

    def run(code: str, endpoint: str, args=None, env=None):
        run_env = {
            k: v
            for k, v in os.environ.items()
            if "proxy" not in k.lower() and not k.startswith(ENV_DROPPED)
        }
        run_env.update(
            {
                "HF_ENDPOINT": endpoint,
                "HF_HOME": str(tmp_path / "hf_home"),
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "HF_HUB_DISABLE_XET": "1",
                "HF_HUB_ETAG_TIMEOUT": "10",
                "CLIENT_ARGS": json.dumps(args or {}),
            }
        )
        run_env.update(env or {})
        prelude = (
            "import json, os\n"
            "ARGS = json.loads(os.environ['CLIENT_ARGS'])\n"
            "def emit(result): print('RESULT ' + json.dumps(result))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            check=False,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        results = [line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        assert proc.returncode == 0 and results, f"client failed:\n{proc.stdout}\n{proc.stderr}"
        return json.loads(results[-1])

    return run


def trusting(hub) -> dict:
    """The environment that makes a client (httpx, requests) trust the hub's CA."""
    return {"SSL_CERT_FILE": hub.ca_cert_path, "REQUESTS_CA_BUNDLE": hub.ca_cert_path}


def get(url: str, context=None, headers=None, tunnel=None):
    """One GET with http.client, redirects not followed: (status, headers, body).

    `tunnel=(proxy_host, proxy_port, proxy_headers)` goes through a proxy with CONNECT."""
    u = urllib.parse.urlsplit(url)
    path = u.path + (f"?{u.query}" if u.query else "")
    if tunnel:
        conn = http.client.HTTPSConnection(tunnel[0], tunnel[1], context=context, timeout=30)
        conn.set_tunnel(u.hostname, u.port, headers=tunnel[2])
    elif u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=context, timeout=30)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def via_proxy(proxy, url: str, proxy_headers=None):
    """A plain-HTTP GET through the proxy, in absolute form: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    try:
        conn.request("GET", url, headers=proxy_headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def basic(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {token}"}


def host_port(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


DOWNLOAD = """
from huggingface_hub import hf_hub_download
path = hf_hub_download(ARGS["repo_id"], ARGS["filename"])
emit(open(path, "rb").read().hex() if ARGS.get("small") else path)
"""

# model_info, not hf_hub_download: that one retries connection errors 5 times (20 s of backoff).
FAILURE_CHAIN = """
from huggingface_hub import HfApi
try:
    HfApi().model_info(ARGS["repo_id"])
    emit(["answered"])
except Exception as exc:
    chain = []
    while exc is not None and len(chain) < 10:
        chain.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    emit(chain)
"""


# ---- HTTPS hub and the real client ------------------------------------------------------------


def test_https_hub_serves_every_origin_over_https(hub):
    assert hub.url.startswith("https://127.0.0.1:") and hub.cdn_url.startswith("https://localhost:")
    assert hub.ca_cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert Path(hub.ca_cert_path).read_text() == hub.ca_cert_pem
    repos = hub.repos()  # the control API, over TLS
    assert (repos["hub_url"], repos["cdn_url"]) == (hub.url, hub.cdn_url)
    status, headers, _ = get(f"{hub.url}/{MODEL_ID}/resolve/main/big.bin", hub.ssl_context())
    assert status == 302 and headers["Location"].startswith(f"{hub.cdn_url}/cdn/")
    status, _, body = get(headers["Location"], hub.ssl_context())
    assert status == 200 and body == hub.file_bytes(MODEL_ID, "big.bin")


def test_client_downloads_a_small_file_over_https(hub, client):
    content = client(
        DOWNLOAD,
        hub.url,
        {"repo_id": MODEL_ID, "filename": "config.json", "small": True},
        env=trusting(hub),
    )
    assert bytes.fromhex(content) == hub.file_bytes(MODEL_ID, "config.json")
    stats = hub.stats()
    # The HEAD follows the relative 307; the GET goes straight to resolve-cache. All over TLS.
    assert [(r["method"], r["action"], r["status"]) for r in stats["requests"]] == [
        ("HEAD", "resolve", 307),
        ("HEAD", "resolve-cache", 200),
        ("GET", "resolve-cache", 200),
    ]


def test_client_downloads_an_lfs_file_from_the_cdn_over_https(hub, client):
    path = client(
        DOWNLOAD, hub.url, {"repo_id": MODEL_ID, "filename": "big.bin"}, env=trusting(hub)
    )
    facts = hub.repo(MODEL_ID)["files"]["A"]["big.bin"]
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == facts["sha256"]
    stats = hub.stats()
    assert [(r["origin"], r["status"]) for r in stats["requests"]] == [("hub", 302), ("cdn", 200)]
    assert stats["cdn_requests"][0]["headers"]["Host"] == host_port(hub.cdn_url)


def test_client_snapshot_downloads_the_model_over_https(hub, client):
    snapshot = client(
        """
        from huggingface_hub import snapshot_download
        emit(snapshot_download(ARGS["repo_id"]))
        """,
        hub.url,
        {"repo_id": MODEL_ID},
        env=trusting(hub),
    )
    files = hub.repo(MODEL_ID)["files"]["A"]
    snapshot = Path(snapshot)
    found = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()}
    assert found == set(files)
    for path, facts in files.items():
        assert (snapshot / path).stat().st_size == facts["size"]
    assert hub.count("cdn") == sum(f["lfs"] for f in files.values())


def test_client_without_the_ca_fails_with_an_ssl_error(hub, client):
    chain = client(FAILURE_CHAIN, hub.url, {"repo_id": MODEL_ID})
    assert chain != ["answered"]
    assert any("CERTIFICATE_VERIFY_FAILED" in link for link in chain), chain
    assert hub.count() == 0


def test_hub_records_request_headers_of_api_and_resolve_requests(hub, client):
    client(
        """
        from huggingface_hub import HfApi
        api = HfApi(headers={"X-Custom-Header": "custom-value"}, user_agent="pulp-test/1.0")
        api.model_info(ARGS["repo_id"])
        api.hf_hub_download(ARGS["repo_id"], "config.json")
        emit("ok")
        """,
        hub.url,
        {"repo_id": MODEL_ID},
        env=trusting(hub),
    )
    requests = hub.stats()["requests"]
    assert {r["kind"] for r in requests} == {"api", "resolve"}
    for r in requests:
        assert r["headers"]["X-Custom-Header"] == "custom-value"
        assert "pulp-test/1.0" in r["headers"]["User-Agent"]


# ---- mTLS hub ----------------------------------------------------------------------------------


def refused(context, origin: str) -> bool:
    """True when the TLS connection fails: the server requires a valid client certificate.

    With TLS 1.3 the client finishes its side of the handshake before the server checks its
    certificate, so the failure shows on the first read, as an SSL error or a closed connection.
    """
    try:
        get(f"{origin}{CONFIG}", context)
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected):
        return True
    return False


def test_mtls_hub_refuses_a_client_without_a_certificate(mtls_hub):
    for origin in (mtls_hub.url, mtls_hub.cdn_url):
        assert refused(mtls_hub.ssl_context(), origin), origin
    assert mtls_hub.count() == 0


def test_mtls_hub_refuses_a_certificate_from_another_ca(mtls_hub, tmp_path):
    from pulp_hugging_face.tests.functional.fake_hub.tls import foreign_client_pair

    cert, key = foreign_client_pair()
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "key.pem").write_text(key)
    context = mtls_hub.ssl_context()
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    assert refused(context, mtls_hub.url)
    assert mtls_hub.count() == 0


def test_mtls_hub_serves_a_client_with_its_certificate(mtls_hub, tmp_path):
    # The PEM strings a Pulp remote's client_cert/client_key take, loaded as aiohttp would.
    (tmp_path / "cert.pem").write_text(mtls_hub.client_cert_pem)
    (tmp_path / "key.pem").write_text(mtls_hub.client_key_pem)
    context = ssl.create_default_context(cadata=mtls_hub.ca_cert_pem)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    status, _, body = get(f"{mtls_hub.url}{CONFIG}", context)
    assert status == 200 and body == mtls_hub.file_bytes(MODEL_ID, "config.json")
    status, headers, _ = get(f"{mtls_hub.url}/{MODEL_ID}/resolve/main/big.bin", context)
    assert status == 302
    status, _, body = get(headers["Location"], context)
    assert status == 200 and len(body) == mtls_hub.repo(MODEL_ID)["files"]["A"]["big.bin"]["size"]
    assert [r["origin"] for r in mtls_hub.stats()["requests"]] == ["hub", "hub", "cdn"]


def test_mtls_hub_restart_keeps_ports_and_certificates():
    def facts(hub):
        return hub.url, hub.cdn_url, hub.ca_cert_pem, hub.client_cert_pem, hub.client_key_pem

    with FakeHub(tls=True, client_cert_required=True) as hub:
        before = facts(hub)
        hub.stop()
        hub.start()
        assert facts(hub) == before
        assert hub.count() == 0  # the control API, over mTLS
        status, _, _ = get(f"{hub.url}{CONFIG}", hub.ssl_context(client_cert=True))
        assert status == 200


def test_client_cert_required_needs_tls():
    with pytest.raises(ValueError, match="tls"):
        FakeHub(client_cert_required=True)


# ---- forward proxy -----------------------------------------------------------------------------


def test_proxy_forwards_plain_http(proxy, plain_hub):
    plain_hub.reset()
    creds = basic(proxy.username, proxy.password)
    status, headers, body = via_proxy(proxy, f"{plain_hub.url}{CONFIG}", creds)
    assert status == 200 and body == plain_hub.file_bytes(MODEL_ID, "config.json")
    assert headers["Connection"] == "close"  # see forward_proxy.py: no reuse across targets
    (entry,) = proxy.requests()
    assert (entry["method"], entry["target"], entry["path"], entry["tunnel"]) == (
        "GET",
        host_port(plain_hub.url),
        CONFIG,
        False,
    )
    assert entry["status"] is None and entry["upstream"] == entry["target"]
    (seen,) = plain_hub.stats()["requests"]
    assert seen["path"] == CONFIG and "Proxy-Authorization" not in seen["headers"]
    assert seen["headers"]["Via"].startswith("1.1 proxy.py")


def test_proxy_tunnels_https_with_connect(proxy, hub):
    tunnel = ("127.0.0.1", proxy.port, basic(proxy.username, proxy.password))
    status, _, body = get(f"{hub.url}{CONFIG}", hub.ssl_context(), tunnel=tunnel)
    assert status == 200 and body == hub.file_bytes(MODEL_ID, "config.json")
    (entry,) = proxy.requests()
    assert (entry["method"], entry["target"], entry["tunnel"], entry["status"]) == (
        "CONNECT",
        host_port(hub.url),
        True,
        None,
    )
    (seen,) = hub.stats()["requests"]
    assert seen["path"] == CONFIG and "Via" not in seen["headers"]


@pytest.mark.parametrize("credentials", ["missing", "wrong"])
@pytest.mark.parametrize("mode", ["plain", "connect"])
def test_proxy_answers_407_without_the_right_credentials(proxy, plain_hub, hub, mode, credentials):
    plain_hub.reset()
    headers = {} if credentials == "missing" else basic(proxy.username, "not-the-password")
    if mode == "plain":
        status, answer, _ = via_proxy(proxy, f"{plain_hub.url}{CONFIG}", headers)
        assert status == 407 and answer["Proxy-Authenticate"] == "Basic"
    else:
        with pytest.raises(OSError, match="407"):
            get(f"{hub.url}{CONFIG}", hub.ssl_context(), tunnel=("127.0.0.1", proxy.port, headers))
    assert [(r["status"], r["method"]) for r in proxy.requests()] == [
        (407, "GET" if mode == "plain" else "CONNECT")
    ]
    assert plain_hub.count() == 0 and hub.count() == 0


def test_proxy_refuses_targets_off_the_machine(proxy):
    # 192.0.2.1 is TEST-NET-1: the proxy refuses it before connecting anywhere.
    creds = basic(proxy.username, proxy.password)
    status, _, body = via_proxy(proxy, "http://192.0.2.1/x", creds)
    assert status == 403 and b"loopback" in body
    assert [(r["status"], r["target"]) for r in proxy.requests()] == [(403, "192.0.2.1:80")]


def test_proxy_never_sends_a_request_to_another_targets_connection(proxy, plain_hub):
    """proxy.py would send a kept-alive connection's second request to the first one's target."""
    plain_hub.reset()
    auth = basic(proxy.username, proxy.password)["Proxy-Authorization"]
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    conn.connect()
    try:
        for url in (f"{plain_hub.url}{CONFIG}", f"{plain_hub.cdn_url}/cdn/{'0' * 64}"):
            target = host_port(url)
            request = f"GET {url} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {auth}\r\n\r\n"
            conn.sock.sendall(request.encode())
            time.sleep(0.3)  # one request per read of the proxy
        answers, deadline = b"", time.monotonic() + 10
        while time.monotonic() < deadline and b"Bad Gateway" not in answers:
            chunk = conn.sock.recv(1 << 16)
            if not chunk:
                break
            answers += chunk
    finally:
        conn.close()
    assert answers.startswith(b"HTTP/1.1 200 OK\r\nConnection: close\r\n")
    assert [r["status"] for r in proxy.requests()] == [None, 502]
    assert [r["path"] for r in plain_hub.stats()["requests"]] == [CONFIG]


def test_client_downloads_through_the_proxy_over_https(proxy, hub, client):
    env = {**trusting(hub), "HTTPS_PROXY": proxy.url_with_credentials}
    path = client(DOWNLOAD, hub.url, {"repo_id": MODEL_ID, "filename": "big.bin"}, env=env)
    assert Path(path).stat().st_size == hub.repo(MODEL_ID)["files"]["A"]["big.bin"]["size"]
    tunnels = {r["target"] for r in proxy.requests() if r["method"] == "CONNECT"}
    assert tunnels == {host_port(hub.url), host_port(hub.cdn_url)}
    assert all(r["status"] is None for r in proxy.requests())
