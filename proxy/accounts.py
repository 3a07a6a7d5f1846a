"""API keys to accounts: only sha256 digests are kept, compared in constant time."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.config import Config


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    tier: str


class KeysFileError(ValueError):
    pass


def hash_key(key: str) -> str:
    """The only form in which Sluice keeps an API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def keys_file_line(key: str, account: str, tier: str) -> str:
    return f"{hash_key(key)} {account} {tier}"


def parse_keys_file(text: str, source: str = "keys file") -> dict[str, Account]:
    """Lines of ``<sha256-hex> <account> [tier]``; ``#`` starts a comment."""
    table: dict[str, Account] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) not in (2, 3):
            raise KeysFileError(f"{source}:{number}: expected '<sha256> <account> [tier]'")
        digest = parts[0].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeysFileError(f"{source}:{number}: first field must be a sha256 hex digest")
        table[digest] = Account(parts[1], parts[2] if len(parts) == 3 else "default")
    return table


class KeyTable:
    """Resolves a bearer key to its account.

    The probe is on the key's sha256, never the key: a timing difference in the
    dict lookup can only reveal bits of a digest, which tells an attacker nothing
    about any key (the reason hashing first is the standard constant-time scheme).
    """

    __slots__ = ("_by_digest",)

    def __init__(self, by_digest: dict[str, Account]) -> None:
        self._by_digest = by_digest

    @classmethod
    def from_config(cls, config: Config) -> KeyTable:
        table: dict[str, Account] = {}
        if config.keys.file:
            path = Path(config.keys.file)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise KeysFileError(f"keys.file: cannot read {path}: {exc.strerror or exc}") from None
            table.update(parse_keys_file(text, str(path)))
        for entry in config.keys.inline:
            table[entry.sha256] = Account(entry.account, entry.tier)
        # An account's configured tier override wins over the key's tier.
        for digest, account in list(table.items()):
            override = config.accounts.get(account.id)
            if override is not None and override.tier is not None:
                table[digest] = Account(account.id, override.tier)
        return cls(table)

    def __len__(self) -> int:
        return len(self._by_digest)

    def account_ids(self) -> set[str]:
        return {a.id for a in self._by_digest.values()}

    def tier_of(self, account_id: str) -> str | None:
        return next((a.tier for a in self._by_digest.values() if a.id == account_id), None)

    def resolve(self, key: str) -> Account | None:
        return self._by_digest.get(hash_key(key))
