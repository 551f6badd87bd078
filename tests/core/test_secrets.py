"""The secret key (generated once into the data directory) and secrets encrypted with it."""

from __future__ import annotations

import stat

import pytest

from tripl_core.settings import Settings


def test_secret_key_is_generated_once_and_private(tmp_path):
    s = Settings(data_dir=tmp_path / "data", secret_key=None, _env_file=None)
    key = s.resolved_secret_key()
    path = tmp_path / "data" / "secret_key"
    assert len(key) >= 48 and path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "data", secret_key=None, _env_file=None).resolved_secret_key() == key


def test_configured_secret_key_wins(tmp_path):
    s = Settings(data_dir=tmp_path, secret_key="from-env", _env_file=None)
    assert s.resolved_secret_key() == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_encrypt_round_trip_and_wrong_key(monkeypatch):
    from tripl_core import secrets
    from tripl_core.settings import reset_settings_cache

    monkeypatch.setenv("TRIPL_SECRET_KEY", "key-one")
    reset_settings_cache()
    token = secrets.encrypt("hunter22")
    assert token and "hunter22" not in token
    assert secrets.decrypt(token) == "hunter22"
    assert secrets.encrypt("") is None and secrets.decrypt(None) is None
    monkeypatch.setenv("TRIPL_SECRET_KEY", "key-two")
    reset_settings_cache()
    with pytest.raises(RuntimeError, match="TRIPL_SECRET_KEY"):
        secrets.decrypt(token)
    monkeypatch.undo()
    reset_settings_cache()
