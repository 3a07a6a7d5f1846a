"""Configuration: YAML in, frozen dataclasses out, every error names its field.

The loader is strict on purpose: an unknown key is an error (a typo in a limit
must not silently mean "no limit"), and every message carries the dotted path
of the field at fault, e.g. ``tiers.free.limits.requests_per_minute: must be an
integer >= 1, got 'ten'``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import yaml

from proxy.accounts import hash_key
from proxy.shaping.actions import Hardening, RequestClamps, ResponseTransforms, ShapingActions

FailurePolicy = Literal["open", "closed"]


class ConfigError(ValueError):
    """A config problem, phrased as ``<field path>: <reason>``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class AdminConfig:
    host: str = "127.0.0.1"
    port: int = 9090
    token_env: str = "SLUICE_ADMIN_TOKEN"


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    first_byte: float = 120.0
    idle: float = 60.0
    total: float = 900.0


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    url: str = "http://127.0.0.1:8000"
    api_key_env: str | None = None
    pass_client_key: bool = False
    max_connections: int = 512
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass(frozen=True, slots=True)
class Limits:
    """Budgets of one account. ``None`` means unlimited."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    concurrency: int | None = None
    max_tokens: int | None = None
    # Completion tokens reserved at admission when the request names no max_tokens.
    completion_reserve: int = 512


@dataclass(frozen=True, slots=True)
class TokenWeights:
    """Cost of one token of each kind, in budget units."""

    prompt: float = 1.0
    cached_prompt: float = 1.0
    completion: float = 1.0
    reasoning: float = 1.0


SIGNALS = (
    "output_heavy",
    "cot",
    "capability",
    "grader",
    "logprob_harvest",
    "logit_sweep",
    "sampling",
    "templated_harvest",
    "coverage",
    "multilingual",
    "pacing",
    "volume",
    "flavored_volume",
    "subject_sweep",
    "campaign",
    "infrastructure",
)
DEFAULT_SIGNAL_WEIGHTS: Mapping[str, float] = {
    "output_heavy": 0.25,
    "cot": 0.45,
    "capability": 0.35,
    "grader": 0.5,
    "logprob_harvest": 0.7,
    "logit_sweep": 0.9,
    "sampling": 0.5,
    "templated_harvest": 0.55,
    "coverage": 0.25,
    "multilingual": 0.4,
    "pacing": 0.3,
    "volume": 0.45,
    "flavored_volume": 0.6,
    "subject_sweep": 0.5,
    "campaign": 0.8,
    "infrastructure": 0.25,
}
ACTIONS = ("delay", "perturb", "throttle", "block")


@dataclass(frozen=True, slots=True)
class Levels:
    """Risk at or above which each action applies (None: never)."""

    delay: float | None = 0.5
    perturb: float | None = 0.65
    throttle: float | None = 0.85
    block: float | None = 0.97


@dataclass(frozen=True, slots=True)
class TierDetection:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SIGNAL_WEIGHTS))
    levels: Levels = field(default_factory=Levels)


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    mode: Literal["enforce", "shadow", "off"] = "enforce"
    allowlist: frozenset[str] = frozenset()
    half_life_s: float = 3 * 3600.0  # behaviour windows
    risk_half_life_s: float = 3600.0  # a flag fades this fast once the behaviour stops
    delay_s: float = 2.0  # tarpit before forwarding, jittered +-50%
    # The output-fingerprint secret, read from the environment variable named by
    # detection.fingerprint_key_env; None: no level can fingerprint.
    fingerprint_key: bytes | None = field(default=None, repr=False)


# What the shaped levels do by default (tiers.<t>.shaping.<level> overrides field by field).
# Quiet degradation: less useful for training, still a valid answer for a legitimate client.
DEFAULT_SHAPING: Mapping[str, ShapingActions] = {
    "delay": ShapingActions(hide_ratelimit_headers=True),
    "perturb": ShapingActions(
        request=RequestClamps(max_n=1, max_top_logprobs=5, drop_logit_bias=True),
        response=ResponseTransforms(logprobs="round", remove_reasoning=True),
        hide_ratelimit_headers=True,
    ),
}
SHAPED_LEVELS = tuple(DEFAULT_SHAPING)  # throttle and block refuse the request: nothing to shape


@dataclass(frozen=True, slots=True)
class Shaping:
    """A tier's shaped levels: what delay and perturb do to the request and its answer."""

    delay: ShapingActions = DEFAULT_SHAPING["delay"]
    perturb: ShapingActions = DEFAULT_SHAPING["perturb"]

    def level(self, action: str) -> ShapingActions | None:
        """The actions of an enforced policy action; None for allow, throttle and block."""
        return self.delay if action == "delay" else self.perturb if action == "perturb" else None


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    limits: Limits = field(default_factory=Limits)
    weights: TokenWeights = field(default_factory=TokenWeights)
    store_failure: FailurePolicy | None = None  # None: the store's policy
    detection: TierDetection = field(default_factory=TierDetection)
    hardening: Hardening = field(default_factory=Hardening)
    shaping: Shaping = field(default_factory=Shaping)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One inline key: its sha256 (hex) or, for development only, the key itself."""

    sha256: str
    account: str
    tier: str


@dataclass(frozen=True, slots=True)
class KeysConfig:
    file: str | None = None
    inline: tuple[KeyEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountOverride:
    tier: str | None = None
    limits: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreConfig:
    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    cluster: bool = False
    timeout_ms: float = 50.0
    failure: FailurePolicy = "open"
    breaker_failures: int = 3
    breaker_cooldown_s: float = 2.0
    # How many replicas share the limits: in fail-open each allows 1/replicas of them.
    replicas: int = 1
    lease_ttl_s: float = 960.0
    max_accounts: int = 100_000
    # TLS to Redis (a rediss:// URL): the CA that signed the server's certificate (None: the system's),
    # and a client certificate and key when the server asks for one (tls-auth-clients).
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    drain_seconds: float = 30.0
    reload_poll_s: float = 2.0  # how often the config file is checked for changes; 0 = only on SIGHUP
    # Slow clients (slowloris): a request's head must arrive whole this long after its first byte
    # (or after connecting), and its body within body_timeout_s; else 408 and the connection closes.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    listen: Listen = field(default_factory=Listen)
    admin: AdminConfig = field(default_factory=AdminConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    tiers: Mapping[str, Tier] = field(default_factory=lambda: {"default": Tier("default")})
    default_tier: str = "default"
    accounts: Mapping[str, AccountOverride] = field(default_factory=dict)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    source: str | None = None  # the file it was read from, for reload

    def tier(self, name: str) -> Tier:
        return self.tiers.get(name) or self.tiers[self.default_tier]

    def limits_for(self, account: str, tier: Tier) -> Limits:
        override = self.accounts.get(account)
        if override is None or not override.limits:
            return tier.limits
        return replace(tier.limits, **override.limits)


# Instances, not classes: slotted dataclass fields are descriptors on the class.
_DEFAULT_LISTEN = Listen()
_DEFAULT_ADMINCONFIG = AdminConfig()
_DEFAULT_UPSTREAMCONFIG = UpstreamConfig()
_DEFAULT_TIMEOUTS = Timeouts()
_DEFAULT_SERVERCONFIG = ServerConfig()
_DEFAULT_STORECONFIG = StoreConfig()


class _Section:
    """A mapping being validated; remembers its path and which keys were read."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(path, f"must be a mapping, got {_show(data)}")
        self.data: dict[str, Any] = data
        self.path = path
        self._seen: set[str] = set()

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        self._seen.add(key)
        return self.data.get(key)

    def section(self, key: str) -> _Section:
        return _Section(self.raw(key), self._at(key))

    def int(self, key: str, default: int | None, *, minimum: int = 0, nullable: bool = False) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            if nullable:
                raise ConfigError(self._at(key), f"must be an integer >= {minimum} or null, got {_show(value)}")
            raise ConfigError(self._at(key), f"must be an integer >= {minimum}, got {_show(value)}")
        return value

    def float(self, key: str, default: float, *, minimum: float = 0.0, exclusive: bool = False) -> float:
        value = self.raw(key)
        if value is None:
            return default
        bad = isinstance(value, bool) or not isinstance(value, (int, float))
        if bad or value < minimum or (exclusive and value == minimum):
            op = ">" if exclusive else ">="
            raise ConfigError(self._at(key), f"must be a number {op} {minimum}, got {_show(value)}")
        return float(value)

    def str(self, key: str, default: Any) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise ConfigError(self._at(key), f"must be a non-empty string, got {_show(value)}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(self._at(key), f"must be true or false, got {_show(value)}")
        return value

    def choice(self, key: str, default: Any, choices: tuple[str, ...]) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if value not in choices:
            raise ConfigError(self._at(key), f"must be one of {', '.join(choices)}; got {_show(value)}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._seen, key=str)  # YAML keys need not be strings
        if unknown:
            name = unknown[0] if isinstance(unknown[0], str) and unknown[0] else repr(unknown[0])
            raise ConfigError(self._at(name), "unknown field (check the spelling)")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _port(section: _Section, key: str, default: int) -> int:
    port = section.int(key, default)
    if port > 65535:
        raise ConfigError(section._at(key), f"must be a port number 0..65535, got {port}")
    return int(port)


def _listen(s: _Section) -> Listen:
    result = Listen(host=s.str("host", _DEFAULT_LISTEN.host), port=_port(s, "port", _DEFAULT_LISTEN.port))
    s.done()
    return result


def _admin(s: _Section) -> AdminConfig:
    result = AdminConfig(
        host=s.str("host", _DEFAULT_ADMINCONFIG.host),
        port=_port(s, "port", _DEFAULT_ADMINCONFIG.port),
        token_env=s.str("token_env", _DEFAULT_ADMINCONFIG.token_env),
    )
    s.done()
    return result


def _upstream(s: _Section) -> UpstreamConfig:
    url = s.str("url", _DEFAULT_UPSTREAMCONFIG.url)
    if not url.startswith(("http://", "https://")):
        raise ConfigError(s._at("url"), f"must start with http:// or https://, got {_show(url)}")
    t = s.section("timeouts")
    timeouts = Timeouts(
        connect=t.float("connect", _DEFAULT_TIMEOUTS.connect, exclusive=True),
        first_byte=t.float("first_byte", _DEFAULT_TIMEOUTS.first_byte, exclusive=True),
        idle=t.float("idle", _DEFAULT_TIMEOUTS.idle, exclusive=True),
        total=t.float("total", _DEFAULT_TIMEOUTS.total, exclusive=True),
    )
    t.done()
    result = UpstreamConfig(
        url=url.rstrip("/"),
        api_key_env=s.str("api_key_env", None),
        pass_client_key=s.bool("pass_client_key", False),
        max_connections=s.int("max_connections", _DEFAULT_UPSTREAMCONFIG.max_connections, minimum=1),
        timeouts=timeouts,
    )
    s.done()
    return result


def _server(s: _Section) -> ServerConfig:
    proxies = s.raw("trusted_proxies") or []
    if not isinstance(proxies, list):
        raise ConfigError(s._at("trusted_proxies"), f"must be a list of CIDRs, got {_show(proxies)}")
    networks = []
    for i, cidr in enumerate(proxies):
        try:
            networks.append(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError as exc:
            raise ConfigError(s._at(f"trusted_proxies[{i}]"), str(exc)) from None
    result = ServerConfig(
        max_body_bytes=s.int("max_body_bytes", _DEFAULT_SERVERCONFIG.max_body_bytes, minimum=1024),
        max_header_bytes=s.int("max_header_bytes", _DEFAULT_SERVERCONFIG.max_header_bytes, minimum=1024),
        trusted_proxies=tuple(networks),
        drain_seconds=s.float("drain_seconds", _DEFAULT_SERVERCONFIG.drain_seconds),
        reload_poll_s=s.float("reload_poll_s", _DEFAULT_SERVERCONFIG.reload_poll_s),
        header_timeout_s=s.float("header_timeout_s", _DEFAULT_SERVERCONFIG.header_timeout_s, exclusive=True),
        body_timeout_s=s.float("body_timeout_s", _DEFAULT_SERVERCONFIG.body_timeout_s, exclusive=True),
    )
    s.done()
    return result


def _store(s: _Section) -> StoreConfig:
    backend = s.choice("backend", "memory", ("memory", "redis"))
    url = s.str("url", None)
    url_env = s.str("url_env", None)
    if url_env is not None:
        url = os.environ.get(url_env) or url
        if url is None:
            raise ConfigError(s._at("url_env"), f"environment variable {url_env} is not set")
    if backend == "redis":
        if url is None:
            raise ConfigError(s._at("url"), "required when backend is redis (or set url_env)")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(s._at("url"), "must start with redis://, rediss:// or unix://")
        if "decode_responses" in parse_qs(urlsplit(url).query):
            # redis-py would decode the scripts' packed replies as text (and the URL's option wins).
            raise ConfigError(s._at("url"), "decode_responses is not supported: the store's replies are binary")
    result = StoreConfig(
        backend=backend,
        url=url,
        cluster=s.bool("cluster", False),
        timeout_ms=s.float("timeout_ms", _DEFAULT_STORECONFIG.timeout_ms, exclusive=True),
        failure=s.choice("failure", "open", ("open", "closed")),
        breaker_failures=s.int("breaker_failures", _DEFAULT_STORECONFIG.breaker_failures, minimum=1),
        breaker_cooldown_s=s.float("breaker_cooldown_s", _DEFAULT_STORECONFIG.breaker_cooldown_s, exclusive=True),
        replicas=s.int("replicas", 1, minimum=1),
        lease_ttl_s=s.float("lease_ttl_s", _DEFAULT_STORECONFIG.lease_ttl_s, exclusive=True),
        max_accounts=s.int("max_accounts", _DEFAULT_STORECONFIG.max_accounts, minimum=1),
        tls_ca_file=_tls_file(s, "tls_ca_file", url),
        tls_cert_file=_tls_file(s, "tls_cert_file", url),
        tls_key_file=_tls_file(s, "tls_key_file", url),
    )
    if (result.tls_cert_file is None) != (result.tls_key_file is None):
        raise ConfigError(s._at("tls_key_file" if result.tls_key_file is None else "tls_cert_file"),
                          "tls_cert_file and tls_key_file go together (a client certificate and its key)")
    s.done()
    return result


def _tls_file(s: _Section, key: str, url: str | None) -> str | None:
    path = s.str(key, None)
    if path is None:
        return None
    if url is None or not url.startswith("rediss://"):
        raise ConfigError(s._at(key), "needs a rediss:// store.url (TLS)")
    if not Path(path).is_file():
        raise ConfigError(s._at(key), f"no such file: {path}")
    return str(path)


_LIMIT_FIELDS = (
    "requests_per_minute",
    "tokens_per_minute",
    "tokens_per_day",
    "tokens_per_month",
    "concurrency",
    "max_tokens",
)


def _limits(s: _Section, base: Limits) -> Limits:
    values: dict[str, Any] = {}
    for name in _LIMIT_FIELDS:
        if name in s.data:
            values[name] = s.int(name, None, minimum=1, nullable=True)
    values["completion_reserve"] = s.int("completion_reserve", base.completion_reserve, minimum=0)
    s.done()
    return replace(base, **values)


def _weights(s: _Section) -> TokenWeights:
    result = TokenWeights(
        prompt=s.float("prompt", 1.0),
        cached_prompt=s.float("cached_prompt", 1.0),
        completion=s.float("completion", 1.0),
        reasoning=s.float("reasoning", 1.0),
    )
    s.done()
    return result


def _tier_detection(s: _Section) -> TierDetection:
    w = s.section("weights")
    weights = dict(DEFAULT_SIGNAL_WEIGHTS)
    for name in w.data:
        if name not in SIGNALS:
            raise ConfigError(w._at(str(name)), f"unknown signal; known: {', '.join(SIGNALS)}")
        value = w.float(str(name), 0.0)
        if value > 1.0:
            raise ConfigError(w._at(str(name)), f"must be a number between 0 and 1, got {value}")
        weights[str(name)] = value
    w.done()
    lv = s.section("levels")
    values: dict[str, float | None] = {}
    for action in ACTIONS:
        if action in lv.data:
            raw = lv.raw(action)
            if raw is None:
                values[action] = None
                continue
            value = lv.float(action, 0.0)
            if value > 1.0:
                raise ConfigError(lv._at(action), f"must be a risk between 0 and 1, got {value}")
            values[action] = value
    lv.done()
    levels = replace(Levels(), **values)
    set_levels = [(a, getattr(levels, a)) for a in ACTIONS if getattr(levels, a) is not None]
    for (low_name, low), (high_name, high) in zip(set_levels, set_levels[1:]):
        if high < low:
            raise ConfigError(lv._at(high_name), f"must be >= {low_name} ({low}): levels rise with the risk")
    s.done()
    return TierDetection(weights=weights, levels=levels)


def _nullable_int(s: _Section, key: str, base: int | None, *, minimum: int) -> int | None:
    """Absent: ``base``; null: None (no limit); else an integer >= minimum."""
    if key not in s.data:
        s.raw(key)
        return base
    if s.raw(key) is None:
        return None
    return int(s.int(key, base, minimum=minimum, nullable=True))


def _hardening(s: _Section) -> Hardening:
    d = Hardening()
    result = Hardening(
        max_top_logprobs=s.int("max_top_logprobs", d.max_top_logprobs),
        max_n=s.int("max_n", d.max_n, minimum=1),
        max_logit_bias_entries=s.int("max_logit_bias_entries", d.max_logit_bias_entries),
        max_logit_bias=s.float("max_logit_bias", d.max_logit_bias),
        neutralise_sweeps=s.bool("neutralise_sweeps", d.neutralise_sweeps),
        sweep_min_distinct=s.int("sweep_min_distinct", d.sweep_min_distinct, minimum=1),
        sweep_distinct_share=s.float("sweep_distinct_share", d.sweep_distinct_share),
        sweep_drop=s.choice("sweep_drop", d.sweep_drop, ("logit_bias", "logprobs")),
    )
    if result.sweep_distinct_share > 1.0:
        share = result.sweep_distinct_share
        raise ConfigError(s._at("sweep_distinct_share"), f"must be a share between 0 and 1, got {share}")
    s.done()
    return result


def _level_shaping(s: _Section, base: ShapingActions, fingerprint_key: bool) -> ShapingActions:
    r = s.section("request")
    b = base.request
    floor = b.temperature_floor
    if "temperature_floor" in r.data:
        floor = None if r.raw("temperature_floor") is None else r.float("temperature_floor", 0.0)
    request = RequestClamps(
        max_n=_nullable_int(r, "max_n", b.max_n, minimum=1),
        max_tokens=_nullable_int(r, "max_tokens", b.max_tokens, minimum=1),
        max_top_logprobs=_nullable_int(r, "max_top_logprobs", b.max_top_logprobs, minimum=0),
        drop_logit_bias=r.bool("drop_logit_bias", b.drop_logit_bias),
        drop_logprobs=r.bool("drop_logprobs", b.drop_logprobs),
        temperature_floor=floor,
    )
    r.done()
    o = s.section("response")
    c = base.response
    response = ResponseTransforms(
        logprobs=o.choice("logprobs", c.logprobs, ("keep", "strip", "round", "noise")),
        round_decimals=o.int("round_decimals", c.round_decimals),
        noise_scale=o.float("noise_scale", c.noise_scale),
        remove_reasoning=o.bool("remove_reasoning", c.remove_reasoning),
        truncate_tokens=_nullable_int(o, "truncate_tokens", c.truncate_tokens, minimum=1),
    )
    o.done()
    fingerprint = s.bool("fingerprint", base.fingerprint)
    if fingerprint and not fingerprint_key:
        raise ConfigError(s._at("fingerprint"), "needs the secret: set detection.fingerprint_key_env")
    result = ShapingActions(
        request=request,
        response=response,
        fingerprint=fingerprint,
        hide_ratelimit_headers=s.bool("hide_ratelimit_headers", base.hide_ratelimit_headers),
    )
    s.done()
    return result


def _shaping(s: _Section, fingerprint_key: bool) -> Shaping:
    levels: dict[str, ShapingActions] = {}
    for name in SHAPED_LEVELS:
        base = DEFAULT_SHAPING[name]
        if name == "perturb":
            base = replace(base, fingerprint=fingerprint_key)  # on by default once a secret exists
        levels[name] = _level_shaping(s.section(name), base, fingerprint_key)
    for name in ("throttle", "block"):
        if name in s.data:
            raise ConfigError(s._at(name), f"{name} refuses the request ({'429' if name == 'throttle' else '403'}): "
                              "there is nothing to shape; shaping applies to delay and perturb")
    s.done()
    return Shaping(**levels)


def _detection(s: _Section) -> DetectionConfig:
    allow = s.raw("allowlist") or []
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError(s._at("allowlist"), "must be a list of account ids")
    if s.data.get("mode") is False:  # YAML 1.1 reads a bare `off` as false
        s.data["mode"] = "off"
    result = DetectionConfig(
        mode=s.choice("mode", "enforce", ("enforce", "shadow", "off")),
        allowlist=frozenset(allow),
        half_life_s=s.float("half_life_s", 3 * 3600.0, exclusive=True),
        risk_half_life_s=s.float("risk_half_life_s", 3600.0, exclusive=True),
        delay_s=s.float("delay_s", 2.0),
        fingerprint_key=_secret(s, "fingerprint_key_env"),
    )
    s.done()
    return result


def _secret(s: _Section, key: str) -> bytes | None:
    name = s.str(key, None)
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(s._at(key), f"environment variable {name} is not set")
    return value.encode()


def _tiers(s: _Section, fingerprint_key: bool = False) -> dict[str, Tier]:
    tiers: dict[str, Tier] = {}
    for name in s.data:
        t = _Section(s.raw(name), s._at(str(name)))  # by the key itself: YAML reads `1:` as an integer
        tiers[str(name)] = Tier(
            name=str(name),
            limits=_limits(t.section("limits"), Limits()),
            weights=_weights(t.section("weights")),
            store_failure=t.choice("store_failure", None, ("open", "closed")),
            detection=_tier_detection(t.section("detection")),
            hardening=_hardening(t.section("hardening")),
            shaping=_shaping(t.section("shaping"), fingerprint_key),
        )
        t.done()
    return tiers


def _keys(s: _Section) -> KeysConfig:
    file = s.str("file", None)
    inline_raw = s.raw("inline") or []
    if not isinstance(inline_raw, list):
        raise ConfigError(s._at("inline"), f"must be a list, got {_show(inline_raw)}")
    entries = []
    for i, item in enumerate(inline_raw):
        e = _Section(item, s._at(f"inline[{i}]"))
        digest = e.str("sha256", None)
        key = e.str("key", None)
        key_env = e.str("key_env", None)
        if key_env is not None:
            key = os.environ.get(key_env)
            if not key:
                raise ConfigError(e._at("key_env"), f"environment variable {key_env} is not set")
        if (digest is None) == (key is None):
            raise ConfigError(e.path, "needs exactly one of sha256, key, key_env")
        if digest is not None:
            digest = digest.lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(e._at("sha256"), "must be 64 hex digits (use `sluice keys hash KEY`)")
        entries.append(
            KeyEntry(
                sha256=digest if digest is not None else hash_key(key),
                account=e.str("account", None) or _missing(e, "account"),
                tier=e.str("tier", "default"),
            )
        )
        e.done()
    result = KeysConfig(file=file, inline=tuple(entries))
    s.done()
    return result


def _missing(s: _Section, key: str) -> Any:
    raise ConfigError(s._at(key), "required")


def _accounts(s: _Section) -> dict[str, AccountOverride]:
    result: dict[str, AccountOverride] = {}
    for name in s.data:
        a = _Section(s.raw(name), s._at(str(name)))  # account ids such as `1001:` arrive as integers
        tier = a.str("tier", None)
        limits_section = a.section("limits")
        limits = _limits(limits_section, Limits())
        overrides = {k: getattr(limits, k) for k in limits_section.data}
        result[str(name)] = AccountOverride(tier=tier, limits=overrides)
        a.done()
    return result


def parse_config(data: Any, source: str | None = None) -> Config:
    """Validate a parsed YAML document into a Config, or raise ConfigError."""
    root = _Section(data, "")
    detection = _detection(root.section("detection"))
    has_key = detection.fingerprint_key is not None
    tiers = _tiers(root.section("tiers"), has_key)
    if not tiers:
        tiers = {"default": Tier("default", shaping=_shaping(_Section({}, "tiers.default.shaping"), has_key))}
    default_tier = root.str("default_tier", "default" if "default" in tiers else next(iter(tiers)))
    if default_tier not in tiers:
        raise ConfigError("default_tier", f"names no tier in tiers ({', '.join(tiers)})")
    config = Config(
        listen=_listen(root.section("listen")),
        admin=_admin(root.section("admin")),
        upstream=_upstream(root.section("upstream")),
        server=_server(root.section("server")),
        store=_store(root.section("store")),
        keys=_keys(root.section("keys")),
        tiers=tiers,
        default_tier=default_tier,
        accounts=_accounts(root.section("accounts")),
        detection=detection,
        source=source,
    )
    root.done()
    for i, entry in enumerate(config.keys.inline):
        if entry.tier not in tiers:
            raise ConfigError(f"keys.inline[{i}].tier", f"names no tier in tiers ({', '.join(tiers)})")
    for name, override in config.accounts.items():
        if override.tier is not None and override.tier not in tiers:
            raise ConfigError(f"accounts.{name}.tier", f"names no tier in tiers ({', '.join(tiers)})")
    if config.admin.port == config.listen.port and config.admin.port != 0:
        raise ConfigError("admin.port", "must differ from listen.port (the admin surface has its own port)")
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{p} is not valid YAML: {exc}") from None
    return parse_config(data, source=str(p))
