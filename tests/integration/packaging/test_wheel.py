"""The wheel installs and runs on its own: templates, migrations and static files included.

The test builds the wheel from this checkout, installs it into a new virtualenv and, from a
folder that is not the repository, runs ``cs-app db upgrade`` and ``cs-app serve``, then fetches
the sign-in page and a stylesheet. An editable install finds ``templates/`` and
``migrations/`` in the repository, so only an installed wheel shows that the build carries them.

To stay fast and offline, the wheel is built without build isolation (``hatchling`` is a test
dependency) and installed with ``--no-deps``; the new virtualenv gets its dependencies through
a ``.pth`` line naming this virtualenv's site-packages. A plain path line in a ``.pth`` file
does not run the ``.pth`` files of that folder, so the editable install of ``cs_app`` there
stays invisible: the test checks that ``cs_app`` is imported from the new virtualenv.

It tests packaging, not the database, so it runs in the SQLite pass of the suite only and
skips itself when ``CS_APP_TEST_DATABASE_URL`` names PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CS_APP_TEST_DATABASE_URL")),
    reason="packaging, not the database: runs in the SQLite pass only",
)


def run(*command: str | Path, **options) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=120,
        **options,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A new virtualenv with the wheel built from this checkout installed into it."""
    folder = tmp_path_factory.mktemp("wheel")
    dist = folder / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        dist,
        REPOSITORY,
    )
    (wheel,) = dist.glob("cs_app-*.whl")
    venv = folder / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel)
    site_packages = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site_packages / "test_dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    return venv


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without what would point the app elsewhere."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CS_APP_INSTANCE_PATH", "DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV"}
    }
    return {**environment, "PYTHONUNBUFFERED": "1", **extra}


def test_the_wheel_carries_templates_and_migrations_and_imports_from_the_new_venv(wheel_venv):
    found = run(
        wheel_venv / "bin" / "python",
        "-c",
        "import cs_app, cs_app.paths as p; "
        "print(cs_app.__file__, p.templates_folder(), p.migrations_folder(), sep='\\n')",
        cwd=wheel_venv,
        env=clean_environment(),
    ).split()
    package = Path(found[0]).parent
    assert package.is_relative_to(wheel_venv)
    assert [Path(found[1]), Path(found[2])] == [package / "templates", package / "migrations"]
    assert (package / "templates" / "base.html").is_file()
    assert (package / "static" / "css" / "app.css").is_file()
    assert len(list((package / "migrations" / "versions").glob("*.py"))) >= 9


def test_the_default_instance_folder_is_the_user_data_folder_not_site_packages(
    wheel_venv, tmp_path
):
    printed = run(
        wheel_venv / "bin" / "python",
        "-c",
        "from cs_app.paths import instance_folder; print(instance_folder())",
        env=clean_environment(XDG_DATA_HOME=str(tmp_path / "data")),
    ).strip()
    assert not Path(printed).is_relative_to(wheel_venv)
    if sys.platform == "linux":
        assert Path(printed) == tmp_path / "data" / "cs-app"


def test_the_installed_app_migrates_and_serves_pages_and_stylesheets(wheel_venv, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    instance = tmp_path / "instance"
    environment = clean_environment(CS_APP_INSTANCE_PATH=str(instance))
    cs_app = wheel_venv / "bin" / "cs-app"
    run(cs_app, "db", "upgrade", cwd=elsewhere, env=environment)
    assert (instance / "cs_app.sqlite3").is_file()

    port = free_port()
    server = subprocess.Popen(
        [cs_app, "serve", "--no-demo", "--no-scheduler", "--threads", "2", "--port", str(port)],
        cwd=elsewhere,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "cs-app serve did not listen within 30 s"
                time.sleep(0.2)
        status, content_type, page = get(f"http://127.0.0.1:{port}/login")
        assert status == 200 and content_type.startswith("text/html")
        assert 'name="password"' in page
        status, content_type, stylesheet = get(f"http://127.0.0.1:{port}/static/css/app.css")
        assert status == 200 and content_type.startswith("text/css")
        assert stylesheet
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]
    assert f"Instance folder: {instance}" in output
    assert list(elsewhere.iterdir()) == []
