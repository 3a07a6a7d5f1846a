"""``sluice fingerprint verify``: whose fingerprint does a text carry?

Reads a text (say, outputs collected from a suspect model), tests it against
every account the config knows (or the ones named), and reports each
account's score and p-value, then the attribution: the one account whose
p-value clears ``alpha`` after a Bonferroni correction over all accounts
tested, or none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxy.accounts import KeyTable
from proxy.config import ConfigError, load_config
from proxy.shaping.fingerprint import ALPHA, attribute, verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fingerprint_command", required=True)
    v = sub.add_parser("verify", help="attribute a text to the account whose fingerprint it carries")
    v.add_argument("--config", required=True, help="the config holding detection.fingerprint_key_env")
    v.add_argument("file", help="the text to test ('-' for stdin)")
    v.add_argument("--accounts", help="comma-separated accounts to test (default: every account in the keys)")
    v.add_argument("--alpha", type=float, default=ALPHA, help="false-attribution bound over all accounts tested")
    v.add_argument("--top", type=int, default=5, help="accounts listed, most significant first")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    key = config.detection.fingerprint_key
    if key is None:
        raise ConfigError("detection.fingerprint_key_env", "names no secret: nothing was fingerprinted with it")
    if args.accounts:
        accounts = sorted({a.strip() for a in args.accounts.split(",") if a.strip()})
    else:
        accounts = sorted(KeyTable.from_config(config).account_ids())
    if not accounts:
        print("no accounts to test: name them with --accounts", file=sys.stderr)
        return 2
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    results = verify(text, key, accounts)
    print(f"{'account':<32} {'score':>8} {'p-value':>10}")
    for account, score, p_value in results[: args.top]:
        print(f"{account:<32} {score:>8.2f} {p_value:>10.2e}")
    winner = attribute(results, args.alpha)
    print(f"\nattribution (alpha {args.alpha:g} over {len(accounts)} accounts): {winner or 'none'}")
    return 0
