"""Start and stop a local Label Studio from its own virtual environment.

Label Studio pins its own Django, pyarrow and SDK versions, so it never runs inside grewkit's
environment: ``make label-studio`` builds ``.venv-label-studio`` and this module launches its
``label-studio`` executable as a child process. The admin account and the API token are made
once per data folder by ``label-studio init``, which reads them from a 0600 config file that is
removed as soon as it finishes; the server itself starts with no secret in its environment or
its arguments (both are readable in ``/proc`` and ``ps``). The data folder is 0700 and every
file Label Studio writes there (its SQLite database holds the token) is created under umask
077. grewkit keeps its copy of the credentials in a 0600 file inside that folder; nothing here
prints or logs the token.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from grewkit.annotate.backends.labelstudio import label_studio_executable
from grewkit.core.atomic import write_text
from grewkit.core.errors import GrewkitError

SECRETS_FILE = "grewkit-credentials.json"
STATE_FILE = "grewkit-server.json"
LOG_FILE = "label-studio.log"
DATABASE_FILE = "label_studio.sqlite3"
INIT_CONFIG_FILE = ".grewkit-init.json"
# Files and folders Label Studio creates are readable by their owner only.
PRIVATE_UMASK = 0o077
ADMIN_EMAIL = "admin@grewkit.local"


@dataclass(frozen=True)
class Credentials:
    """The admin account and legacy API token of a grewkit-managed server (never printed)."""

    username: str
    password: str
    token: str

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"Credentials(username={self.username!r}, password=***, token=***)"


_SECRET_ENVIRONMENT = frozenset(
    f"{prefix}{name}" for prefix in ("", "LABEL_STUDIO_") for name in ("USERNAME", "PASSWORD", "USER_TOKEN")
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0


def health(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as response:
            return b'"UP"' in response.read(200)
    except (OSError, urllib.error.URLError):
        return False


def load_credentials(data_dir: Path) -> Credentials | None:
    path = Path(data_dir) / SECRETS_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        return Credentials(doc["username"], doc["password"], doc["token"])
    except (ValueError, KeyError) as exc:
        raise GrewkitError(f"unreadable credentials file ({type(exc).__name__})", path=path) from None


def _create_credentials(data_dir: Path) -> Credentials:
    creds = Credentials(ADMIN_EMAIL, secrets.token_urlsafe(18), secrets.token_hex(20))
    path = data_dir / SECRETS_FILE
    write_text(path, json.dumps({"username": creds.username, "password": creds.password, "token": creds.token}))
    os.chmod(path, 0o600)
    return creds


class LabelStudioServer:
    """One Label Studio process bound to 127.0.0.1, with its data (SQLite, uploads) in ``data_dir``.

    ``document_root`` is the folder local files may be served from (Label Studio refuses any
    path outside it); media and the local-files storages of the projects must lie inside it.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        document_root: str | Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        executable: str | Path | None = None,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.document_root = Path(document_root).resolve()
        self.host = host
        self.port = port
        self.executable = Path(executable) if executable else label_studio_executable()
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def credentials(self) -> Credentials:
        creds = load_credentials(self.data_dir)
        if creds is None:
            raise GrewkitError("no credentials yet: the server has never been started here", path=self.data_dir)
        return creds

    def _env(self) -> dict[str, str]:
        """The server's environment: settings only. Secrets never go here (``ps eww`` shows them)."""
        env = {
            key: value
            for key, value in os.environ.items()
            # An account or token inherited from the caller would be applied by Label Studio at start.
            if key not in _SECRET_ENVIRONMENT and key != "GREWKIT_LABEL_STUDIO_API_KEY"
        }
        env.update(
            {
                "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                # Read when the organisation is made; without it the legacy token is refused.
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
                "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(self.document_root),
                "LATEST_VERSION_CHECK": "false",
                "COLLECT_ANALYTICS": "false",
                "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "",
                "DJANGO_DB": "sqlite",
            }
        )
        # The venv's executable must not pick up grewkit's own interpreter settings.
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        return env

    def start(self, *, timeout: float = 240.0, init_timeout: float = 900.0) -> LabelStudioServer:
        """Start the server and wait for it to answer (``timeout``); a new data folder is first
        migrated and given its account (``init_timeout``: 1-2 min on an idle 2-core box, several
        on a loaded one)."""
        if self.executable is None or not self.executable.is_file():
            raise GrewkitError(
                "Label Studio is not installed: run `make label-studio` (its own virtual environment) "
                "or set GREWKIT_LABEL_STUDIO to a label-studio executable"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.document_root.is_dir():
            raise GrewkitError("local-files document root does not exist", path=self.document_root)
        creds = load_credentials(self.data_dir) or _create_credentials(self.data_dir)
        self._make_private()
        if not (self.data_dir / DATABASE_FILE).is_file():
            self._initialise(creds, timeout=init_timeout)
        if self.port is None:
            self.port = free_port(self.host)
        elif port_in_use(self.port, self.host):
            # Label Studio would silently move to the next port; fail loudly instead.
            raise GrewkitError(f"port {self.port} on {self.host} is already in use")
        self._log = open(self.data_dir / LOG_FILE, "ab")
        cmd = [
            str(self.executable),
            "start",
            "--no-browser",
            "--internal-host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        self.process = subprocess.Popen(
            cmd,
            env=self._env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GrewkitError(
                    f"Label Studio exited with status {self.process.returncode} while starting; see its log",
                    path=self.data_dir / LOG_FILE,
                )
            if health(self.url, timeout=2):
                if not self._answers_to(creds):
                    # Another server took the port between our choice and Label Studio's bind (it then
                    # silently moves to the next port): never talk to a stranger with our token.
                    self.stop()
                    raise GrewkitError(
                        f"another server answers on port {self.port}; start again (a free port is chosen)"
                    )
                self._write_state()
                return self
            time.sleep(1.0)
        self.stop()
        raise GrewkitError(f"Label Studio did not answer /health within {timeout:.0f} s", path=self.data_dir / LOG_FILE)

    def _make_private(self) -> None:
        """0700 on the data folder, 0600 on the database: also for folders made before this rule."""
        os.chmod(self.data_dir, 0o700)
        for path in self.data_dir.glob(DATABASE_FILE + "*"):  # the database and its -wal / -journal files
            os.chmod(path, 0o600)

    def _initialise(self, creds: Credentials, *, timeout: float) -> None:
        """Migrate a new data folder and make the admin account and token, reading them from a file.

        ``label-studio init -c FILE`` takes ``username``, ``password`` and ``user_token`` from its
        config file, so they never appear in an environment or an argument list. The file is 0600
        and lives only while ``init`` runs.
        """
        config = self.data_dir / INIT_CONFIG_FILE
        write_text(
            config, json.dumps({"username": creds.username, "password": creds.password, "user_token": creds.token})
        )
        os.chmod(config, 0o600)
        cmd = [
            str(self.executable),
            "init",
            "--quiet",
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(config),
            "--enable-legacy-api-token",
        ]
        try:
            with open(self.data_dir / LOG_FILE, "ab") as log:
                done = subprocess.run(
                    cmd,
                    env=self._env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                    umask=PRIVATE_UMASK,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            raise GrewkitError(
                f"Label Studio's first-start initialisation took over {timeout:.0f} s; see its log",
                path=self.data_dir / LOG_FILE,
            ) from None
        finally:
            config.unlink(missing_ok=True)
        if done.returncode != 0 or not (self.data_dir / DATABASE_FILE).is_file():
            (self.data_dir / DATABASE_FILE).unlink(missing_ok=True)  # the next start initialises again
            raise GrewkitError(
                f"Label Studio's first-start initialisation exited with status {done.returncode}; see its log",
                path=self.data_dir / LOG_FILE,
            )
        self._make_private()

    def _answers_to(self, creds: Credentials) -> bool:
        """True when the server on our port is ours: it accepts our token and our process is alive."""
        if self.process is None or self.process.poll() is not None:
            return False
        request = urllib.request.Request(
            f"{self.url}/api/current-user/whoami", headers={"Authorization": f"Token {creds.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read()).get("email") == creds.username
        except (OSError, ValueError):
            return False

    def _write_state(self) -> None:
        write_text(
            self.data_dir / STATE_FILE,
            json.dumps({"url": self.url, "pid": self.process.pid, "document_root": str(self.document_root)}, indent=2),
        )

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process is not None and self.process.poll() is None:
            # The launcher starts child processes: signal the whole session it leads.
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        state = self.data_dir / STATE_FILE
        if state.exists():
            state.unlink()

    def kill(self) -> None:
        """Kill -9 the server (tests of crash recovery); the data folder stays usable."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def running_server(data_dir: Path) -> dict | None:
    """The state file of a detached server in ``data_dir`` if its process is alive and healthy."""
    path = Path(data_dir) / STATE_FILE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state if health(state["url"]) else None


def stop_detached(data_dir: Path, timeout: float = 20.0) -> bool:
    state = running_server(data_dir)
    if state is None:
        return False
    pid = int(state["pid"])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ended(pid):
            break
        time.sleep(0.3)
    else:
        os.killpg(pid, signal.SIGKILL)
    (Path(data_dir) / STATE_FILE).unlink(missing_ok=True)
    return True


def _ended(pid: int) -> bool:
    """True once ``pid`` has exited.

    A server detached by this very process (``grewkit run`` starts and stops it in one process)
    is our child: after SIGTERM it stays a zombie, which ``kill(pid, 0)`` still finds, until it
    is reaped, so it is reaped here rather than waited on until the timeout and killed.
    """
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return True
    except ChildProcessError:
        pass  # another process's child (a `serve --detach` typed earlier): only its existence tells
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False
