"""`python -m registry_server --host 127.0.0.1 --port N --db PATH [--token T]`

Serves the registry with werkzeug's threaded server: enough for the demo and the integration
tests, which start it as a real process and stop it with SIGTERM. The token may come from the
environment (REGISTRY_TOKEN) so it stays out of the process list. With --tls-cert and --tls-key
it speaks HTTPS; adding --client-ca makes it require a client certificate signed by that CA
(mutual TLS), on top of the bearer token.
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from registry_server import create_app


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m registry_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--db", type=Path, required=True, help="the SQLite file (created)")
    parser.add_argument("--token", default=os.environ.get("REGISTRY_TOKEN", ""))
    parser.add_argument("--threshold", type=float, default=0.8, help="Dice for duplicates")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument("--client-ca", type=Path, help="PEM CA: require client certificates")
    arguments = parser.parse_args(argv)
    if not arguments.token:
        parser.error("a token is required (--token or REGISTRY_TOKEN)")
    if bool(arguments.tls_cert) != bool(arguments.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if arguments.client_ca and not arguments.tls_cert:
        parser.error("--client-ca needs --tls-cert and --tls-key")
    return arguments


#: Seconds a client has to finish its TLS handshake.
HANDSHAKE_SECONDS = 10.0


class _DeferredHandshake(ssl.SSLContext):
    """Sockets that leave the TLS handshake to the request's thread.

    werkzeug wraps its listening socket, so by default every handshake runs inside accept() on
    the one serving thread: a client that connects and says nothing would stall everybody.
    """

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


class _Handler(WSGIRequestHandler):
    """werkzeug's handler, completing the deferred handshake first (bounded in time); a client
    that fails it (no certificate, another CA, silence) is dropped quietly."""

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.settimeout(HANDSHAKE_SECONDS)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            except OSError:
                self.close_connection = True
                return
        super().handle()


def tls_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """The server's TLS settings (TLS 1.2 at least); with a CA, a client certificate is required."""
    context = _DeferredHandshake(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then close the socket and return 0."""
    arguments = _arguments(argv)
    try:
        app = create_app(arguments.db, arguments.token, arguments.threshold)
    except ValueError as error:
        print(f"registry_server: {error}", file=sys.stderr)
        return 2
    context = None
    if arguments.tls_cert:
        context = tls_context(arguments.tls_cert, arguments.tls_key, arguments.client_ca)
    server: BaseWSGIServer = make_server(
        arguments.host,
        arguments.port,
        app,
        threaded=True,
        request_handler=_Handler,
        ssl_context=context,
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it cannot run on the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheme = "https" if context else "http"
    print(f"listening on {scheme}://{arguments.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
