"""Multi-file outputs published as one unit (core.publish): a kill at any step leaves either
the previous outputs or the new ones, whole, never a new series beside old routes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core import publish
from core.home import HomePaths
from core.locking import home_lock
from core.publish import parquet_writer, publish_files, read_manifest


class Killed(BaseException):
    """Stands for kill -9: nothing of ours runs after it."""


def outputs(paths: HomePaths, value: int) -> dict:
    frame = pd.DataFrame({"v": [value]})
    return {paths.series: parquet_writer(frame), paths.routes: parquet_writer(frame)}


def stored(paths: HomePaths) -> tuple[int, int, int]:
    return (int(pd.read_parquet(paths.series)["v"][0]), int(pd.read_parquet(paths.routes)["v"][0]),
            read_manifest(paths.build_manifest)["build"])


@pytest.fixture
def paths(tmp_path) -> HomePaths:
    paths = HomePaths(tmp_path)
    paths.ensure_dirs()
    publish_files(paths.build_manifest, outputs(paths, 1), {"build": 1})
    return paths


def test_publish_writes_every_file_and_the_manifest_names_them(paths):
    assert stored(paths) == (1, 1, 1)
    assert read_manifest(paths.build_manifest)["files"] == ["routes.parquet", "series.parquet"]


def test_a_kill_while_staging_leaves_the_previous_outputs_whole(paths, monkeypatch):
    files = outputs(paths, 2)

    def dies(path):
        path.write_bytes(b"half a file")
        raise Killed

    files[paths.routes] = dies
    with pytest.raises(Killed):
        publish_files(paths.build_manifest, files, {"build": 2})
    assert stored(paths) == (1, 1, 1)
    assert not list(paths.series_dir.glob(".*staged"))


def test_a_kill_between_the_replacements_is_finished_by_the_next_writer(paths, monkeypatch):
    replaced = []

    def replace_once(source, target):
        if replaced:
            raise Killed  # the series is new, the routes still old
        replaced.append(target)
        publish.os.replace(source, target)

    monkeypatch.setattr(publish, "_replace", replace_once)
    with pytest.raises(Killed):
        publish_files(paths.build_manifest, outputs(paths, 2), {"build": 2})
    monkeypatch.undo()
    assert publish.journal_path(paths.build_manifest).exists()
    with home_lock(paths, "build"):  # every writer stage starts by finishing it
        pass
    assert stored(paths) == (2, 2, 2)
    assert not publish.journal_path(paths.build_manifest).exists()
    assert not list(paths.series_dir.glob(".*staged"))


def test_staged_files_of_a_writer_killed_before_its_journal_are_dropped(paths):
    leftover = paths.series_dir / ".series.parquet.dead.staged"
    leftover.write_bytes(b"x")
    with home_lock(paths, "build"):
        pass
    assert not leftover.exists()
    assert stored(paths) == (1, 1, 1)


def test_a_torn_journal_decides_nothing(paths):
    publish.journal_path(paths.build_manifest).write_text('{"manifest": ', encoding="utf-8")
    with home_lock(paths, "build"):
        pass
    assert stored(paths) == (1, 1, 1)
    assert json.loads(paths.build_manifest.read_text())["build"] == 1
