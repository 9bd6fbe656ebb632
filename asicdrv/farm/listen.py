"""Binding a server and the daemon thread that serves it, for the API and the live page."""

from __future__ import annotations

import threading

from ..errors import ConfigError

METRICS_PORT = 9184  # Prometheus: the port registered for this exporter


def bind_in_background(server_cls, host: str, port: int, handler, what: str, thread_name: str):
    """``server_cls((host, port), handler)`` and a daemon thread to serve it (not started);
    an address that cannot be bound is a ConfigError naming ``what``."""
    try:
        server = server_cls((host, port), handler)
    except OSError as exc:
        raise ConfigError(f"{what} cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return server, threading.Thread(target=server.serve_forever, daemon=True, name=thread_name)


def close_server(server, thread: threading.Thread) -> None:
    """Stop serving (when it was started: ``shutdown`` waits for ``serve_forever``, which
    a listener bound but never started would never run) and release the address."""
    if thread.is_alive():
        server.shutdown()
    server.server_close()
