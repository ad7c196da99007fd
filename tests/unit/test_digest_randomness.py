"""orlop/digest.py and orlop/randomness.py: what hashlib and secrets give, without them."""

from __future__ import annotations

import collections
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from orlop import digest, randomness

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 41])
def test_sha256_hex_is_sha256(data: bytes) -> None:
    assert digest.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_neither_imports_openssl_or_secrets() -> None:
    """The point of both modules: a fresh interpreter that imports them has not loaded
    hashlib's OpenSSL, hmac or secrets."""
    code = ("import sys; from orlop import digest, randomness; digest.sha256_hex(b'x'); "
            "randomness.token_hex(); randomness.choice('ab'); "
            "print(sorted(m for m in ('_hashlib', 'hashlib', 'hmac', 'secrets', 'random') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(SRC)}).stdout.strip()
    assert out == "[]"


def test_token_hex() -> None:
    tokens = {randomness.token_hex(32) for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in tokens)
    assert len(randomness.token_hex(5)) == 10


@pytest.mark.parametrize("n", [1, 2, 3, 10, 255, 256, 257, 1000])
def test_randbelow_range(n: int) -> None:
    seen = {randomness.randbelow(n) for _ in range(20 * n if n < 300 else 3000)}
    assert seen <= set(range(n))
    if n <= 257:
        assert seen == set(range(n))  # 20 draws per value: every value shows up


def test_randbelow_is_uniform() -> None:
    """10 (not a power of two, the random names' digit): no value much likelier than
    another over 20,000 draws (expected 2,000 each; 5 sigma is ~212)."""
    counts = collections.Counter(randomness.randbelow(10) for _ in range(20_000))
    assert set(counts) == set(range(10))
    assert max(abs(c - 2000) for c in counts.values()) < 250


def test_randbelow_refuses_a_non_positive_bound() -> None:
    with pytest.raises(ValueError):
        randomness.randbelow(0)


def test_choice() -> None:
    assert {randomness.choice("abc") for _ in range(300)} == {"a", "b", "c"}
    with pytest.raises(ValueError):
        randomness.choice("")
