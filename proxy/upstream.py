"""The upstream model server: one pooled ClientSession and the header rules."""

from __future__ import annotations

import os

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config import ConfigError, UpstreamConfig

# RFC 9110 hop-by-hop headers, plus those aiohttp recomputes for the next hop.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Identity a client could forge: never forwarded as the client sent it. Credentials besides the bearer
# key (Azure-style `api-key`, `x-api-key`) would carry a client's key on to the upstream.
CLIENT_IDENTITY = frozenset(
    {"authorization", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip", "api-key", "x-api-key"}
)
# The client must not learn how the upstream is reached.
RESPONSE_DROP = HOP_BY_HOP | {"server", "date", "www-authenticate"}


class Upstream:
    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.base = config.url
        self._credential: str | None = None
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ConfigError("upstream.api_key_env", f"environment variable {config.api_key_env} is not set")
            self._credential = f"Bearer {key}"
        self._session: aiohttp.ClientSession | None = None

    def probe_headers(self) -> dict[str, str]:
        """Sluice's own credential, for the readiness probe (none when clients' keys are passed on)."""
        return {"Authorization": self._credential} if self._credential is not None else {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("upstream session not started")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.config.max_connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=self.config.timeouts.connect),
            # Bodies pass through as the upstream encoded them; we ask for identity.
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def request_headers(
        self, client: CIMultiDictProxy[str], client_key: str, client_ip: str
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in client.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in CLIENT_IDENTITY or lower.startswith("x-sluice-"):
                continue
            headers.add(name, value)
        # Sluice reads usage from the body, so it must see it uncompressed.
        headers["Accept-Encoding"] = "identity"
        headers["X-Forwarded-For"] = client_ip
        if self.config.pass_client_key:
            headers["Authorization"] = f"Bearer {client_key}"
        elif self._credential is not None:
            headers["Authorization"] = self._credential
        return headers


def response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        lower = name.lower()
        if lower in RESPONSE_DROP or lower.startswith("x-ratelimit-"):
            continue
        headers.add(name, value)
    return headers
