"""Small stdlib-only helpers for scripts/local-pulp and scripts/run-tests.

Subcommands:
  free-ports N [HOST]          print N distinct free TCP ports
  port-free HOST PORT          exit 0 when PORT can be bound on HOST
  probe API_URL CONTENT_URL... exit 0 when the API, a worker and every content app are up;
                               prints what is still missing
  setup-cache ...              idempotently create the Hugging Face remote + distribution
  remote-usage API_URL PASSWORD_FILE
                               one line per Hugging Face remote: used bytes, file count,
                               max_size and the last eviction

Never prints passwords or tokens.
"""

import argparse
import base64
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

API_V3 = "/pulp/api/v3/"


def free_ports(count, host):
    socks, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    print(" ".join(str(p) for p in ports))


def port_free(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError:
        return 1
    finally:
        s.close()
    return 0


def _opener():
    # Never go through an HTTP proxy for the local Pulp.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, auth=None, timeout=30):
    """Return (status, parsed JSON or text or None). status 0 = no answer."""
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener().open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def probe(api_url, content_urls):
    missing = []
    status, body = http("GET", api_url + API_V3 + "status/", timeout=5)
    if status == 404:  # DOMAIN_ENABLED: the API lives under /pulp/<domain>/api/v3/
        status, body = http("GET", api_url + "/pulp/default/api/v3/status/", timeout=5)
    if status != 200 or not isinstance(body, dict):
        missing.append(f"api (HTTP {status or 'no answer'})")
    else:
        if not body.get("online_workers"):
            missing.append("worker (not yet in status)")
        if not body.get("online_content_apps"):
            missing.append("content app (not yet in status)")
    for content_url in content_urls:
        cstatus, _ = http("GET", content_url + "/pulp/content/", timeout=5)
        if cstatus == 0:
            where = f" at {content_url}" if len(content_urls) > 1 else ""
            missing.append(f"content app{where} (no answer)")
    if missing:
        print("waiting for: " + ", ".join(missing))
        return 1
    return 0


class Api:
    def __init__(self, base, auth):
        self.base = base.rstrip("/")
        self.auth = auth

    def url(self, path_or_href):
        if path_or_href.startswith("http"):
            return path_or_href
        return self.base + path_or_href

    def call(self, method, path, body=None):
        return http(method, self.url(path), body=body, auth=self.auth)

    def wait_task(self, task_href, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, task = self.call("GET", task_href)
            if status == 200 and task.get("state") in ("completed", "failed", "canceled"):
                if task["state"] != "completed":
                    raise SystemExit(f"task {task_href} {task['state']}: {task.get('error')}")
                return task
            time.sleep(0.5)
        raise SystemExit(f"task {task_href} did not finish within {timeout}s")

    def write(self, method, path, body):
        """POST/PATCH; follow an async task; return the resource (or None)."""
        status, data = self.call(method, path, body)
        if status not in (200, 201, 202):
            raise SystemExit(f"{method} {path} -> HTTP {status}: {json.dumps(data)[:800]}")
        if status == 202 and isinstance(data, dict) and data.get("task"):
            task = self.wait_task(data["task"])
            created = task.get("created_resources") or []
            href = created[0] if created else (path if method != "POST" else None)
            if href:
                return self.call("GET", href)[1]
            return None
        return data

    def find_by_name(self, endpoint, name):
        query = urllib.parse.urlencode({"name": name})
        status, data = self.call("GET", f"{endpoint}?{query}")
        if status != 200:
            raise SystemExit(f"GET {endpoint} -> HTTP {status}: {str(data)[:400]}")
        return data["results"][0] if data.get("results") else None

    def endpoint(self, kind, app_label, preferred):
        """Find the list endpoint of this plugin's remote/distribution type."""
        path = f"{API_V3}{kind}/{app_label}/{preferred}/"
        if self.call("GET", path + "?limit=1")[0] == 200:
            return path
        status, schema = self.call("GET", API_V3 + "docs/api.json")
        if status == 200 and isinstance(schema, dict):
            pattern = re.compile(rf"{re.escape(API_V3)}{kind}/{app_label}/[^/{{}}]+/")
            for candidate in sorted(schema.get("paths", {})):
                if pattern.fullmatch(candidate):
                    return candidate
        return None


def setup_cache(args):
    with open(args.password_file) as f:
        api = Api(args.api, ("admin", f.read().strip()))
    remotes = api.endpoint("remotes", args.app_label, args.endpoint)
    distributions = api.endpoint("distributions", args.app_label, args.endpoint)
    if not remotes or not distributions:
        print(
            f"the API has no {args.app_label} remote/distribution endpoints "
            f"(remote: {remotes}, distribution: {distributions})",
            file=sys.stderr,
        )
        return 3

    remote_body = {"name": args.remote_name, "url": args.upstream, "policy": "on_demand"}
    remote = api.find_by_name(remotes, args.remote_name)
    if remote is None:
        remote = api.write("POST", remotes, remote_body)
        print(f"created remote {args.remote_name!r} -> {args.upstream}")
    elif remote.get("url") != args.upstream or remote.get("policy") != "on_demand":
        remote = api.write(
            "PATCH", remote["pulp_href"], {"url": args.upstream, "policy": "on_demand"}
        )
        print(f"updated remote {args.remote_name!r} -> {args.upstream}")
    else:
        print(f"remote {args.remote_name!r} -> {args.upstream} (unchanged)")

    dist_body = {
        "name": args.dist_name,
        "base_path": args.base_path,
        "remote": remote["pulp_href"],
    }
    dist = api.find_by_name(distributions, args.dist_name)
    if dist is None:
        dist = api.write("POST", distributions, dist_body)
        print(f"created distribution {args.dist_name!r} at base path {args.base_path!r}")
    elif dist.get("base_path") != args.base_path or dist.get("remote") != remote["pulp_href"]:
        api.write(
            "PATCH", dist["pulp_href"], {"base_path": args.base_path, "remote": remote["pulp_href"]}
        )
        print(f"updated distribution {args.dist_name!r} at base path {args.base_path!r}")
    else:
        print(f"distribution {args.dist_name!r} at base path {args.base_path!r} (unchanged)")
    return 0


def _size(value):
    if value is None:
        return "none"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def remote_usage(api_url, password_file):
    with open(password_file) as f:
        api = Api(api_url, ("admin", f.read().strip()))
    path = f"{API_V3}remotes/hugging_face/hugging_face/?limit=1000&ordering=name"
    status, data = api.call("GET", path)
    if status != 200:
        print(f"remotes: HTTP {status}")
        return 3
    for remote in data.get("results", []):
        print(
            f"remote {remote['name']!r}: {_size(remote.get('used_bytes'))} in "
            f"{remote.get('file_count')} files (max_size {_size(remote.get('max_size'))}), "
            f"last eviction {remote.get('last_eviction') or 'never'}"
        )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pulp_api.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("free-ports")
    p.add_argument("count", type=int)
    p.add_argument("host", nargs="?", default="127.0.0.1")
    p = sub.add_parser("port-free")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p = sub.add_parser("probe")
    p.add_argument("api")
    p.add_argument("content", nargs="+")
    p = sub.add_parser("setup-cache")
    p.add_argument("--api", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--remote-name", required=True)
    p.add_argument("--dist-name", required=True)
    p.add_argument("--base-path", required=True)
    p.add_argument("--app-label", default="hugging_face")
    p.add_argument("--endpoint", default="hugging_face")
    p = sub.add_parser("remote-usage")
    p.add_argument("api")
    p.add_argument("password_file")
    args = parser.parse_args(argv)

    if args.cmd == "free-ports":
        free_ports(args.count, args.host)
        return 0
    if args.cmd == "port-free":
        return port_free(args.host, args.port)
    if args.cmd == "probe":
        return probe(args.api.rstrip("/"), [url.rstrip("/") for url in args.content])
    if args.cmd == "remote-usage":
        return remote_usage(args.api, args.password_file)
    return setup_cache(args)


if __name__ == "__main__":
    sys.exit(main())
