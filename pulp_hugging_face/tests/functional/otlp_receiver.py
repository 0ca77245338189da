"""A minimal OTLP/HTTP metrics receiver: what an OpenTelemetry collector does with `otlp` over
HTTP, decoded with opentelemetry-proto (the collector binary is not on PyPI).

Accepts `POST /v1/metrics` (protobuf, optionally gzip) and keeps every data point as
(metric name, attributes, value, resource attributes).
"""

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)


def _value(any_value):
    return (
        getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") else None
    )


def _attributes(key_values):
    return {kv.key: _value(kv.value) for kv in key_values}


class OTLPReceiver:
    def __init__(self, host="127.0.0.1"):
        self.points = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/metrics":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                receiver._keep(request)
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _keep(self, request):
        with self.lock:
            for resource_metrics in request.resource_metrics:
                resource = _attributes(resource_metrics.resource.attributes)
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            if kind == "histogram":
                                value = point.count
                            else:
                                value = getattr(point, point.WhichOneof("value"))
                            self.points.append(
                                (metric.name, _attributes(point.attributes), value, resource)
                            )

    def total(self, name, **attributes):
        """The sum over every exporting process (`service.instance.id`) and every series
        matching `attributes` of its last exported (cumulative) value; None if none came."""
        latest = {}
        with self.lock:
            for metric, attrs, value, resource in self.points:
                if metric == name and all(attrs.get(k) == v for k, v in attributes.items()):
                    series = (resource.get("service.instance.id"), tuple(sorted(attrs.items())))
                    latest[series] = value
        return sum(latest.values()) if latest else None

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
