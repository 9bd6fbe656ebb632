"""Binding a server and the daemon thread that serves it, for the API and the live page.

The thread sleeps until a connection comes or the server is closed: socketserver's own
``serve_forever`` wakes twice a second to look for a shutdown request, and on a small
controller board every wake-up of an idle thread costs CPU (docs/performance.md).  The
API's server is a :class:`Listener`, the part of socketserver's ``ThreadingTCPServer`` it
used, so that a controller does not load socketserver (0.1 MiB); the live page keeps
http.server's.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading

from ..errors import ConfigError

log = logging.getLogger(__name__)

METRICS_PORT = 9184  # Prometheus: the port registered for this exporter


class Listener:
    """A TCP socket listening on ``address`` (IPv6 when the host has a colon); each
    connection is handled by ``handle(sock, client_address)`` on a daemon thread of its
    own and then closed, the reply flushed first (socketserver's ``shutdown_request``)."""

    def __init__(self, address: tuple[str, int], handle, backlog: int = 128):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(backlog)
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)  # a connection reset before accept(): no wait
        self.server_address = self.socket.getsockname()
        self.handle = handle

    def fileno(self) -> int:
        return self.socket.fileno()

    def handle_request(self) -> None:
        """Take the connection waiting, if any, and start its thread."""
        try:
            sock, client_address = self.socket.accept()
        except OSError:
            return
        sock.setblocking(True)
        name = f"{threading.current_thread().name}-client"
        threading.Thread(
            target=self._serve, args=(sock, client_address), daemon=True, name=name
        ).start()

    def _serve(self, sock: socket.socket, client_address) -> None:
        try:
            self.handle(sock, client_address)
        except Exception:  # noqa: BLE001 - one client's failure is logged, not fatal
            log.exception("a client of %s:%s failed", *self.server_address[:2])
        finally:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            sock.close()

    def server_close(self) -> None:
        self.socket.close()


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
