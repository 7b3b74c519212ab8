from pathlib import Path

from core.settings import Settings


def test_every_path_derives_from_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    for path in (settings.data_dir, settings.warehouse_dir, settings.series_dir,
                 settings.forecasts_dir, settings.outbox_dir, settings.mlruns_dir):
        assert tmp_path in path.parents
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert settings.service_database_url == f"sqlite:///{tmp_path / 'data' / 'narcotrend.db'}"


def test_two_homes_never_share_a_path(tmp_path: Path) -> None:
    first, second = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    assert first.tracking_uri != second.tracking_uri
    assert first.service_database_url != second.service_database_url
    assert not set(map(str, (first.data_dir, first.mlruns_dir))) & set(
        map(str, (second.data_dir, second.mlruns_dir)))


def test_settings_read_prefixed_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NARCOTREND_HOME", str(tmp_path))
    monkeypatch.setenv("NARCOTREND_HORIZON", "9")
    monkeypatch.setenv("NARCOTREND_DATABASE_URL", "postgresql+psycopg://u@localhost/nt")
    settings = Settings()
    assert settings.home == tmp_path.resolve()
    assert settings.horizon == 9
    assert settings.service_database_url == "postgresql+psycopg://u@localhost/nt"
