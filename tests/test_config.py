"""Config validation: every mistake names its field and the reason."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config


@pytest.mark.parametrize(
    ("doc", "path", "reason"),
    [
        ({"listen": {"port": "80"}}, "listen.port", "must be an integer"),
        ({"listen": {"port": 70000}}, "listen.port", "must be a port number"),
        ({"listen": {"prot": 80}}, "listen.prot", "unknown field"),
        ({"upstream": {"url": "ftp://x"}}, "upstream.url", "must start with http"),
        ({"upstream": {"timeouts": {"idle": 0}}}, "upstream.timeouts.idle", "must be a number > 0"),
        ({"tiers": {"free": {"limits": {"tokens_per_day": -5}}}}, "tiers.free.limits.tokens_per_day", ">= 1"),
        ({"tiers": {"free": {"limits": {"rpm": 5}}}}, "tiers.free.limits.rpm", "unknown field"),
        ({"tiers": {"free": {}}, "default_tier": "gold"}, "default_tier", "names no tier"),
        ({"store": {"backend": "redis"}}, "store.url", "required when backend is redis"),
        ({"store": {"backend": "etcd"}}, "store.backend", "must be one of memory, redis"),
        ({"store": {"failure": "maybe"}}, "store.failure", "must be one of open, closed"),
        ({"keys": {"inline": [{"sha256": "abc", "account": "a"}]}}, "keys.inline[0].sha256", "64 hex digits"),
        ({"keys": {"inline": [{"account": "a"}]}}, "keys.inline[0]", "exactly one of"),
        ({"keys": {"inline": [{"key_env": "SLUICE_NOPE_UNSET", "account": "a"}]}}, "keys.inline[0].key_env", "not set"),
        ({"server": {"trusted_proxies": ["10.0.0.0/33"]}}, "server.trusted_proxies[0]", "10.0.0.0/33"),
        ({"admin": {"port": 8080}, "listen": {"port": 8080}}, "admin.port", "must differ"),
        ({"accounts": {"acme": {"tier": "nope"}}}, "accounts.acme.tier", "names no tier"),
        ([1, 2], "", "must be a mapping"),
    ],
)
def test_errors_name_the_field(doc: object, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_account_override_merges_over_its_tier() -> None:
    config = parse_config(
        {
            "tiers": {"pro": {"limits": {"requests_per_minute": 100, "tokens_per_day": 1000}}},
            "accounts": {"acme": {"limits": {"tokens_per_day": 5000}}},
        }
    )
    tier = config.tier("pro")
    assert config.limits_for("acme", tier).tokens_per_day == 5000
    assert config.limits_for("acme", tier).requests_per_minute == 100
    assert config.limits_for("other", tier).tokens_per_day == 1000


def test_detection_mode_off_survives_yaml() -> None:
    import yaml

    assert parse_config(yaml.safe_load("detection: {mode: off}")).detection.mode == "off"


def test_empty_document_gives_working_defaults() -> None:
    config = parse_config(None)
    assert config.listen.port == 8080 and config.admin.port == 9090
    assert config.store.backend == "memory" and config.default_tier == "default"
