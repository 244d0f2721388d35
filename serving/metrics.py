"""Prometheus metrics of one app, in its own `CollectorRegistry` (two apps in one process never collide)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from notecheck.model.classifier import Prediction
from notecheck.serving.batcher import BatchStats

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Request counts and latencies by route, batch sizes, queue depth and verdict counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "notecheck_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "notecheck_http_request_seconds", "HTTP latency by route", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_size = Histogram("notecheck_batch_notes", "Notes per model batch", buckets=BATCH_BUCKETS, registry=r)
        self.batch_requests = Histogram(
            "notecheck_batch_requests", "Requests sharing a model batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "notecheck_batch_seconds", "Model time per batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("notecheck_queue_notes", "Notes waiting for a batch", registry=r)
        self.dropped = Gauge("notecheck_dropped_notes", "Notes dropped because their client left", registry=r)
        self.verdicts = Counter(
            "notecheck_verdicts", "Predictions by verdict and action", ["verdict", "action"], registry=r
        )
        self.ready = Gauge("notecheck_ready", "1 when the model is loaded and warmed up", registry=r)

    def watch_queue(self, depth: Callable[[], float], dropped: Callable[[], float]) -> None:
        """Read the batcher's queue depth and drop count at scrape time (always current, no bookkeeping)."""
        self.queue_depth.set_function(depth)
        self.dropped.set_function(dropped)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, stats: BatchStats) -> None:
        self.batch_size.observe(stats.n_notes)
        self.batch_requests.observe(stats.n_requests)
        self.batch_seconds.observe(stats.seconds)

    def observe_predictions(self, predictions: Iterable[Prediction]) -> None:
        for p in predictions:
            self.verdicts.labels(p.verdict, p.action).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this app's registry."""
        return generate_latest(self.registry)
