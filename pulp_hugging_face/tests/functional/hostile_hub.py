"""A hub that answers what each test tells it to: for upstream answers no real hub should send.

    with HostileHub() as hostile:
        hostile.answer("HEAD", "/org/m/resolve/main/f", 200, {"X-Repo-Commit": "..."})
        ...  # a Pulp remote with url=hostile.url

Answers are given by method and path (query ignored); anything else gets a plain 404. Header
values are sent as given, byte for byte (latin-1), so tests can send what aiohttp would refuse
to produce. Standard library only; it runs in a thread of the test process.
"""

import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        hub = self.server.hostile
        path = self.path.split("?", 1)[0]
        hub.requests.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = hub.answers.get((self.command, path), (404, {}, b"no such answer"))
        self.send_response_only(status)
        for name, value in headers.items():
            self._headers_buffer.append(f"{name}: {value}\r\n".encode("latin-1"))
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, *args):
        pass


class HostileHub:
    def __init__(self):
        self.answers = {}
        self.requests = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.hostile = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method, path, status=200, headers=None, body=b""):
        self.answers[(method, path)] = (status, dict(headers or {}), body)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
