"""Defaults of the command line that come from Settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import default_data_dir
from taskstream.settings import Settings


def test_up_keeps_its_data_where_the_setting_says(tmp_path: Path) -> None:
    assert default_data_dir(Settings(data_dir=tmp_path)) == tmp_path


def test_without_the_setting_up_keeps_its_data_in_the_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TASKSTREAM_DATA_DIR", raising=False)
    assert default_data_dir(Settings()) == Path.home() / ".local" / "share" / "taskstream"
