"""Binding a server and the daemon thread that serves it, for the API and the live page.

The thread sleeps until a connection comes or the server is closed: socketserver's own
``serve_forever`` wakes twice a second to look for a shutdown request, and on a small
controller board every wake-up of an idle thread costs CPU (docs/performance.md).
"""

from __future__ import annotations

import selectors
import socket
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
    # handle_request looks once (timeout 0): a connection reset before it was accepted
    # must not leave the thread waiting where the waker cannot reach it
    server.timeout = 0
    wake_here, server.stop_waker = socket.socketpair()
    thread = threading.Thread(
        target=_serve_until_woken, args=(server, wake_here), daemon=True, name=thread_name
    )
    return server, thread


def _serve_until_woken(server, wake_here: socket.socket) -> None:
    """Take each connection as it comes (``handle_request``, socketserver's public call);
    return once ``close_server`` writes to the waker."""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake_here, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if wake_here in ready:
                    return
                server.handle_request()
    finally:
        wake_here.close()


def close_server(server, thread: threading.Thread) -> None:
    """Stop serving (the thread, when it was started, returns at once) and release the
    address."""
    waker = server.stop_waker
    if thread.is_alive():
        try:
            waker.send(b"\0")
        except OSError:
            pass
        thread.join(timeout=5)
    waker.close()
    server.server_close()
