"""The reference registry as a real process, for integration tests and the demo.

    with RegistryProcess(tmp_path, "token") as registry:
        urlopen(Request(registry.url + "/metadata"))
        registry.restart()  # same port, same database file

It runs `python -m registry_server` with this interpreter, lets the server pick a free port the
first time (`--port 0`, read back from its "listening on" line) and keeps that port across
restarts, so a client configured with `url` keeps working. The token travels in the
environment (REGISTRY_TOKEN), not on the command line. With `tls=RegistryTLS(...)` it serves
HTTPS, and asks for a client certificate when `client_ca` is given (mutual TLS); the helper's
own readiness probe then presents `client_cert`.
"""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 10.0
STOP_SECONDS = 10.0
_LISTENING = re.compile(r"listening on https?://[^:]+:(\d+)")


@dataclass(frozen=True)
class RegistryTLS:
    """PEM files for HTTPS: the server's certificate and key, the CA that signed it (what
    clients trust), and, for mutual TLS, the CA client certificates must chain to and the
    client identity the probe presents."""

    cert: Path
    key: Path
    ca: Path
    client_ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    def arguments(self) -> list[str]:
        """The server's command-line options."""
        found = ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]
        return found + (["--client-ca", str(self.client_ca)] if self.client_ca else [])

    def client_context(self, with_certificate: bool = True) -> ssl.SSLContext:
        """A client's TLS settings: trust `ca`, present the client certificate if asked."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if with_certificate and self.client_cert is not None:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


class RegistryProcess:
    """A registry server over `tmp_dir/registry.db`, its output in `tmp_dir/registry.log`."""

    def __init__(
        self, tmp_dir: Path, token: str, host: str = "127.0.0.1", tls: RegistryTLS | None = None
    ) -> None:
        self.tmp_dir = Path(tmp_dir)
        self.tls = tls
        self.token = token
        self.host = host
        self.db_path = self.tmp_dir / "registry.db"
        self.log_path = self.tmp_dir / "registry.log"
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The FHIR base, e.g. http://127.0.0.1:41234 (known once started)."""
        if self.port is None:
            raise RuntimeError("the registry has not been started")
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RegistryProcess:
        """Start the server and wait (at most ~10 s) until /metadata answers."""
        if self.running:
            raise RuntimeError("the registry is already running")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "registry_server", "--host", self.host]
        command += ["--port", str(self.port or 0), "--db", str(self.db_path)]
        command += self.tls.arguments() if self.tls else []
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "REGISTRY_TOKEN": self.token, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready(offset)
        except BaseException:
            self.stop()
            raise
        return self

    def _output(self, offset: int) -> str:
        return self.log_path.read_bytes()[offset:].decode(errors="replace")

    def _wait_until_ready(self, offset: int) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"the registry exited at start:\n{self._output(offset)}")
            if self.port is None and (found := _LISTENING.search(self._output(offset))):
                self.port = int(found.group(1))
            if self.port is not None and self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the registry did not answer in time:\n{self._output(offset)}")

    def _answers(self) -> bool:
        context = self.tls.client_context() if self.tls else None
        try:
            with urllib.request.urlopen(  # noqa: S310 (our own loopback URL)
                f"{self.url}/metadata", timeout=1, context=context
            ) as response:
                return bool(response.status == 200)
        except OSError:  # refused, reset, TLS handshake, timeout: not ready yet
            return False

    def stop(self) -> int | None:
        """SIGTERM, then wait for the process to exit (killed after ~10 s); its exit code."""
        process, self._process = self._process, None
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def restart(self) -> RegistryProcess:
        """Stop, then start again on the same port over the same database file."""
        self.stop()
        return self.start()

    def __enter__(self) -> RegistryProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
