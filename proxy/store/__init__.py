"""Budget stores: one interface (``base.Store``), a backend per module."""

from __future__ import annotations

from proxy.config import StoreConfig
from proxy.store.base import Store
from proxy.store.memory import MemoryStore


def build_store(config: StoreConfig) -> Store:
    if config.backend == "memory":
        return MemoryStore(max_accounts=config.max_accounts, lease_ttl=config.lease_ttl_s)
    if config.backend == "redis":
        # Imported here so the embedded memory backend never loads the Redis client.
        from proxy.store.redis import RedisStore

        return RedisStore.from_config(config)
    raise NotImplementedError(f"store backend {config.backend!r}")
