"""A PostgreSQL 15 server of the suite's own (initdb + pg_ctl on a free port under a temp dir), for
fault tests that stop and start it. The shared server on 5432 is never stopped.

initdb refuses to run as root: when the suite runs as root, the server runs as the ``postgres``
OS user (``runuser``), with the temp dir owned by it. A server that cannot start fails the test.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.redis_servers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer:
    """One throwaway cluster: trust auth on 127.0.0.1, no fsync, one database ``guard``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"asgi-guard-pg-{self.port}-"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/guard"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate (its own CA), for ``sslrootcert``."""
        return self.dir / "server.crt"

    def init(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        # TLS on, with a certificate for DNS:localhost only (so verify-full to 127.0.0.1 must fail).
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost", "-keyout", str(self.dir / "server.key"),
             "-out", str(self.ca_file)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        os.chmod(self.dir / "server.key", 0o600)
        if self.as_root:
            user = pwd.getpwnam("postgres")
            for name in ("server.key", "server.crt"):
                os.chown(self.dir / name, user.pw_uid, user.pw_gid)
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"ssl = on\nssl_cert_file = '{self.ca_file}'\nssl_key_file = '{self.dir / 'server.key'}'\n")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "guard")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
