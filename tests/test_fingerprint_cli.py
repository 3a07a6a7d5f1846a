"""`sluice fingerprint verify`: a marked text is attributed to its account, an unmarked one to none."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from proxy.accounts import keys_file_line
from proxy.shaping.fingerprint import fingerprint_text
from proxy.simulate import CONCEPTS, expo_text

SECRET = "fingerprint-test-secret"
ACCOUNTS = [f"acct-{i:02d}" for i in range(20)]


def verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "keys").write_text("".join(keys_file_line(f"sk-{a}", a, "default") + "\n" for a in ACCOUNTS))
    (tmp_path / "sluice.yaml").write_text(
        f"keys: {{file: {tmp_path / 'keys'}}}\ndetection: {{fingerprint_key_env: SLUICE_TEST_FP_KEY}}\n"
    )
    (tmp_path / "text.txt").write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "proxy", "fingerprint", "verify", "--config", str(tmp_path / "sluice.yaml"),
         str(tmp_path / "text.txt")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SLUICE_TEST_FP_KEY": SECRET},
    )


def sample(seed: int, words: int = 900) -> str:
    rng = random.Random(seed)
    return "\n\n".join(expo_text(rng, rng.choice(CONCEPTS), 300) for _ in range(words // 300))


def test_marked_text_is_attributed_to_its_account(tmp_path: Path) -> None:
    marked = fingerprint_text(sample(1), SECRET.encode(), "acct-07")
    result = verify(tmp_path, marked)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("over 20 accounts): acct-07")
    assert result.stdout.splitlines()[1].startswith("acct-07")  # the most significant row


def test_unmarked_text_is_attributed_to_none(tmp_path: Path) -> None:
    result = verify(tmp_path, sample(2))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("over 20 accounts): none")


def test_without_a_secret_it_says_which_field_is_missing(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text("keys: {inline: [{sha256: '" + "0" * 64 + "', account: a}]}\n")
    (tmp_path / "t.txt").write_text("text")
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "fingerprint", "verify", "--config", str(tmp_path / "sluice.yaml"),
         str(tmp_path / "t.txt")], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "detection.fingerprint_key_env" in result.stderr
