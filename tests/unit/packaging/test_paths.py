"""Where the app looks for its templates, migrations and instance folder (``cs_app.paths``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cs_app import paths


def test_a_source_checkout_uses_the_repository_templates_and_migrations():
    repository = Path(__file__).resolve().parents[3]
    assert paths.templates_folder() == repository / "templates"
    assert paths.migrations_folder() == repository / "migrations"
    assert (paths.templates_folder() / "base.html").is_file()
    assert (paths.migrations_folder() / "env.py").is_file()


def test_copies_inside_the_package_win_over_the_repository(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "cs_app"
    (package / "templates").mkdir(parents=True)
    (package / "migrations").mkdir()
    monkeypatch.setattr(paths, "PACKAGE", package)
    assert paths.templates_folder() == package / "templates"
    assert paths.migrations_folder() == package / "migrations"


def test_the_instance_folder_is_the_one_cs_app_instance_path_names(tmp_path, monkeypatch):
    monkeypatch.setenv("CS_APP_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    assert paths.instance_folder() == tmp_path / "elsewhere"


def test_a_relative_cs_app_instance_path_is_taken_from_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CS_APP_INSTANCE_PATH", "here")
    assert paths.instance_folder() == tmp_path.resolve() / "here"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME is the Linux convention")
def test_the_instance_folder_defaults_to_the_per_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CS_APP_INSTANCE_PATH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = paths.instance_folder()
    assert folder == tmp_path / "data" / "cs-app"
    assert not folder.is_relative_to(paths.PACKAGE)
