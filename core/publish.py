"""Multi-file outputs published as one unit: staged files, a journal, then a manifest written
last (the build's `series.parquet` + `routes.parquet` + `build.json`, the warehouse's records and
quarantine).

`publish_files(manifest, {path: writer}, content)`:

1. every file is written to a staged name beside its target (`.series.parquet.<token>.staged`);
   a failure or kill here leaves the previous outputs untouched (staged leftovers are removed);
2. a journal (`build.json.pending`) naming the staged files and the manifest is written
   atomically: from this moment the publication is decided;
3. the staged files replace their targets, the manifest replaces the old one, the journal goes.

A kill during 3 leaves the journal; `recover_publications` (run by `core.locking.home_lock`
before any writer stage) completes it, so the next stage and every reader after it see the new
outputs whole, never a new series beside old routes. Callers hold the home's writer lock.
Another output joins a publication by one more entry in the `{path: writer}` mapping.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.home import HomePaths, write_text_atomic

Writer = Callable[[Path], Any]
JOURNAL_SUFFIX = ".pending"
STAGED_SUFFIX = ".staged"


def parquet_writer(frame: Any) -> Writer:
    """A writer of a DataFrame (or pyarrow Table) as Parquet, for `publish_files`."""
    if hasattr(frame, "to_parquet"):
        return lambda path: frame.to_parquet(path, index=False)
    import pyarrow.parquet as pq

    return lambda path: pq.write_table(frame, path)


def _staged_name(target: Path, token: str) -> Path:
    return target.with_name(f".{target.name}.{token}{STAGED_SUFFIX}")


def journal_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + JOURNAL_SUFFIX)


def publish_files(manifest: Path, files: Mapping[Path, Writer], content: dict[str, Any]) -> None:
    """Write `files` (target -> writer of a path) and the JSON `manifest` as one unit."""
    token = uuid.uuid4().hex[:12]
    staged: dict[Path, Path] = {}
    try:
        for target, write in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            staged[target] = _staged_name(target, token)
            write(staged[target])
        body = {**content, "files": sorted(p.name for p in files)}
        journal = {"manifest": str(manifest), "content": body,
                   "files": [[str(t), str(s)] for t, s in staged.items()]}
        write_text_atomic(json.dumps(journal), journal_path(manifest))  # the decision
    except BaseException:
        for path in staged.values():
            path.unlink(missing_ok=True)
        raise
    _apply(journal)


def _apply(journal: dict[str, Any]) -> None:
    for target, staged in journal["files"]:
        if Path(staged).exists():
            _replace(staged, target)
    manifest = Path(journal["manifest"])
    write_text_atomic(json.dumps(journal["content"], indent=2) + "\n", manifest)
    journal_path(manifest).unlink(missing_ok=True)


def _replace(source: str, target: str) -> None:
    os.replace(source, target)


def recover_publications(paths: HomePaths) -> list[Path]:
    """Finish the publications a killed writer decided, drop staged files of undecided ones;
    returns the manifests completed. Only under the home's writer lock."""
    done = []
    for folder in (paths.warehouse_dir, paths.series_dir, paths.forecasts_dir):
        if not folder.is_dir():
            continue
        for journal_file in sorted(folder.glob(f"*{JOURNAL_SUFFIX}")):
            try:
                journal = json.loads(journal_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                journal_file.unlink(missing_ok=True)  # never written whole: nothing was decided
                continue
            _apply(journal)
            done.append(Path(journal["manifest"]))
        for leftover in folder.glob(f".*{STAGED_SUFFIX}"):
            leftover.unlink(missing_ok=True)
    return done


def read_manifest(manifest: Path) -> dict[str, Any] | None:
    """A published manifest, or None when there is none yet."""
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
