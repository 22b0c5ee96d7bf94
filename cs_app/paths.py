"""Where the app finds its files: the Jinja templates, the migrations and the instance folder.

The templates and migrations live at the top of the repository (``templates/``,
``migrations/``). The wheel carries copies inside the package (``cs_app/templates``,
``cs_app/migrations``; see ``[tool.hatch.build.targets.wheel.force-include]`` in
``pyproject.toml``), so an installed app uses those, and a source checkout or an editable
install, which has no such copies, uses the repository's folders.

The instance folder holds what one installation owns: the SQLite database, the generated
secret key and an optional ``config.py``. It must never be inside the package, which sits in
``site-packages`` once installed, so it defaults to the per-user data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

PACKAGE = Path(__file__).resolve().parent
REPOSITORY = PACKAGE.parent
INSTANCE_PATH_VARIABLE = "CS_APP_INSTANCE_PATH"


def _packaged_or_repository(name: str) -> Path:
    packaged = PACKAGE / name
    return packaged if packaged.is_dir() else REPOSITORY / name


def templates_folder() -> Path:
    return _packaged_or_repository("templates")


def migrations_folder() -> Path:
    return _packaged_or_repository("migrations")


def instance_folder() -> Path:
    """``CS_APP_INSTANCE_PATH`` when set, else the per-user data folder (on Linux
    ``$XDG_DATA_HOME/cs-app``, by default ``~/.local/share/cs-app``)."""
    configured = os.environ.get(INSTANCE_PATH_VARIABLE)
    if configured:
        return Path(configured).expanduser().resolve()
    # appauthor=False: on Windows the folder is %LOCALAPPDATA%\cs-app, not cs-app\cs-app.
    return Path(user_data_dir("cs-app", appauthor=False))
