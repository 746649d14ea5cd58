"""`intake dev`'s helpers: the generated .env and the port it picks."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from intake.config import Settings
from intake.devserver import DEFAULT_PORT, local_port, write_dev_env

ROOT = Path(__file__).resolve().parents[1]


def dev_env(path: Path, port: int = 8000) -> dict[str, str]:
    write_dev_env(path, ROOT / ".env.example", port)
    return {k: v or "" for k, v in dotenv_values(path).items()}


def test_it_writes_a_dev_env_that_settings_accept(tmp_path: Path, redis_url: str) -> None:
    values = dev_env(tmp_path / ".env", port=8123)

    settings = Settings.from_env({**values, "REDIS_URL": redis_url})

    assert settings.public_base_url == "http://127.0.0.1:8123"
    assert settings.twilio_phone_number == "+17275550199"
    assert settings.admissions_phone == "+17273917001"
    assert values["TWILIO_AUTH_TOKEN"].startswith("dev-")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600


def test_it_keeps_the_examples_comments_and_leaves_redis_url_unset(tmp_path: Path) -> None:
    values = dev_env(tmp_path / ".env")

    assert "REDIS_URL" not in values
    example = (ROOT / ".env.example").read_text().splitlines()
    written = (tmp_path / ".env").read_text().splitlines()
    assert [line for line in written if line.startswith("#")] == [
        line for line in example if line.startswith("#")
    ]


def test_it_generates_new_secrets_each_time(tmp_path: Path) -> None:
    first = dev_env(tmp_path / "one.env")
    second = dev_env(tmp_path / "two.env")

    for name in ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"):
        assert first[name] != second[name]


def test_it_runs_on_the_port_of_a_local_public_base_url() -> None:
    assert local_port("http://127.0.0.1:8123") == 8123
    assert local_port("http://localhost:9000") == 9000
    assert local_port("https://intake.example.org") == DEFAULT_PORT
    assert local_port("http://127.0.0.1:notaport") == DEFAULT_PORT
    assert local_port("") == DEFAULT_PORT
