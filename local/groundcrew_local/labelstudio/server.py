"""A real Label Studio server on 127.0.0.1: installed in its own virtual environment, started and stopped here.

Label Studio pins Django and many libraries of its own, so it lives in `.venv-labelstudio` beside the checkout
(like SAM CLI in `.venv-sam`), installed from `requirements/labelstudio.txt`. Its database migrations take about
30 s, so they run once, into a template data folder inside that environment; every start copies the template
into a temporary folder and the server is up in a few seconds. Each start creates the admin user with a fresh
password and API token (a legacy token: the server starts with `--enable-legacy-api-token`).

Sentry, usage analytics and the check for a newer release are switched off: local mode sends nothing anywhere.

    python -m groundcrew_local.labelstudio.server install    # what `make setup` runs
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

REPO = Path(__file__).resolve().parents[3]
VENV = Path(os.environ.get("GROUNDCREW_LABEL_STUDIO_VENV", REPO / ".venv-labelstudio"))
REQUIREMENTS = REPO / "requirements" / "labelstudio.txt"
TEMPLATE_DATA = "data-template"
INSTALLED_MARKER = ".installed"
START_TIMEOUT_SECONDS = 240.0
ADMIN_EMAIL = "admin@groundcrew.local"
# Nothing leaves this machine: no Sentry reports, no analytics, no release check on PyPI.
QUIET_ENVIRONMENT = {
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "COLLECT_ANALYTICS": "false",
    "LATEST_VERSION_CHECK": "false",
}
# The server's own AWS credentials sign its S3 storage's image links; local mode's S3 (moto) accepts any.
# Its SSRF guard refuses storage endpoints on reserved networks; local mode's S3 is on 127.0.0.1.
LOCAL_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "groundcrew-local",
    "AWS_SECRET_ACCESS_KEY": "groundcrew-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "USE_DEFAULT_BANNED_SUBNETS": "false",
}


class LabelStudioNotInstalled(RuntimeError):
    """The server's virtual environment is missing or broken; the message says how to install it."""


def _run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LabelStudioNotInstalled(f"{' '.join(command[:3])} ... failed (exit {result.returncode}):\n{tail}")


def _package_dir(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages/label_studio"))
    if not found:
        raise LabelStudioNotInstalled(f"no label_studio package in {venv}")
    return found[0]


def install(venv: Path = VENV, *, python: str = sys.executable) -> Path:
    """Create the environment, install the pinned server and migrate a template data folder (idempotent)."""
    marker = venv / INSTALLED_MARKER
    if marker.exists() and marker.read_text() == REQUIREMENTS.read_text():
        return venv
    if not (venv / "bin" / "python").exists():
        _run([python, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-r", str(REQUIREMENTS)])
    template = venv / TEMPLATE_DATA
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    env = {**os.environ, **QUIET_ENVIRONMENT, "LABEL_STUDIO_BASE_DATA_DIR": str(template)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    _run([str(venv / "bin" / "python"), "manage.py", "migrate", "--noinput"], env=env, cwd=_package_dir(venv))
    (template / ".env").unlink(missing_ok=True)  # its SECRET_KEY: every server gets its own
    marker.write_text(REQUIREMENTS.read_text())
    return venv


def installed(venv: Path = VENV) -> bool:
    marker = venv / INSTALLED_MARKER
    return marker.exists() and marker.read_text() == REQUIREMENTS.read_text()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LabelStudioServer:
    """A running server. `stop()` ends it and removes its data folder (unless `keep_data`)."""

    url: str
    token: str = field(repr=False)
    admin_email: str
    admin_password: str = field(repr=False)
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    keep_data: bool = False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> LabelStudioServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start(
    venv: Path = VENV, *, port: int | None = None, data_dir: Path | None = None, keep_data: bool = False
) -> LabelStudioServer:
    """Start a server on 127.0.0.1 from a copy of the migrated template; returns once /health answers."""
    if not installed(venv):
        install(venv)
    data = data_dir or Path(tempfile.mkdtemp(prefix="groundcrew-labelstudio-"))
    shutil.copytree(venv / TEMPLATE_DATA, data, dirs_exist_ok=True)
    port = port or _free_port()
    token, password = secrets.token_hex(20), secrets.token_urlsafe(12)
    env = {**os.environ, **QUIET_ENVIRONMENT, **LOCAL_AWS_ENVIRONMENT, "LABEL_STUDIO_BASE_DATA_DIR": str(data)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log_path = data / "server.log"
    command = [
        str(venv / "bin" / "label-studio"), "start", "--no-browser", "--data-dir", str(data),
        "--internal-host", "127.0.0.1", "-p", str(port), "--log-level", "WARNING",
        "--username", ADMIN_EMAIL, "--password", password, "--user-token", token, "--enable-legacy-api-token",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = LabelStudioServer(
        f"http://127.0.0.1:{port}", token, ADMIN_EMAIL, password, data, process, log_path, keep_data
    )
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: LabelStudioServer) -> None:
    """/health answers before the admin user exists: wait until the token is accepted too."""
    http = urllib3.PoolManager(retries=False, timeout=5.0)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Label Studio exited at start (code {server.process.returncode}):\n{server.log_tail()}")
        try:
            answer = http.request(
                "GET", server.url + "/api/current-user/whoami", headers={"Authorization": f"Token {server.token}"}
            )
            if answer.status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"Label Studio did not start within {START_TIMEOUT_SECONDS:.0f} s:\n{server.log_tail()}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        print(f"Label Studio in {install()}")
        return 0
    print("usage: python -m groundcrew_local.labelstudio.server install", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
