"""The pre-admission token estimate: what budgets reserve before the upstream counts.

The ASCII path counts pieces with byte tables instead of a regex; the regex below
is its definition, and both must count every text alike."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.tokens import SAMPLE, EstimateCache, estimate_tokens

# Words, digit groups of at most 3, single symbols ('_' and whitespace are none).
_PIECE_ASCII = re.compile(r"[A-Za-z]+|[0-9]{1,3}|[^A-Za-z0-9_\s\x1c-\x1f]", re.ASCII)


def by_regex(text: str) -> int:
    pieces = _PIECE_ASCII.findall(text)
    return len(pieces) + sum((len(p) - 3) // 8 for p in pieces if len(p) > 10) + text.count("\n") // 2


def test_counts_words_digit_groups_and_symbols() -> None:
    assert estimate_tokens("Hello, world! 12345") == 6  # Hello , world ! 123 45
    assert estimate_tokens("snake_case_name") == 3  # '_' joins, it is no token of its own
    assert estimate_tokens("internationalization") == 1 + (20 - 3) // 8  # a long word is several tokens


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_ascii_count_matches_its_regex_definition(text: str) -> None:
    assert estimate_tokens(text) == by_regex(text)


# Words of every length around the long-word thresholds (11, 19, 27, 35 letters) and past the longest
# counted one (43), between separators of every kind.
_WORDS = st.text(alphabet="abcXYZ", min_size=0, max_size=70)
_SEPARATORS = st.sampled_from([" ", "  ", "\n", ",", "_", "7", "123", "-", "\t", "\x1c"])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=12))
def test_long_words_count_as_their_regex_definition(pieces: list[tuple[str, str]]) -> None:
    text = "".join(word + separator for word, separator in pieces)
    assert estimate_tokens(text) == by_regex(text)


_CJK_DEFINITION = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PIECE_DEFINITION = re.compile(r"[^\W\d_]+|\d{1,3}|[^\w\s]")


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab Zz1234,.\n_-\u4e2d\u6587\u3042\ud55c\u00e9\uff0c\u201c"), max_size=200))
def test_mixed_script_text_counts_as_its_regex_definition(text: str) -> None:
    # CJK characters at ~0.85 tokens each, the rest in pieces (no long-word surcharge off ASCII).
    if text.isascii():
        return
    cjk = len(_CJK_DEFINITION.findall(text))
    rest = _CJK_DEFINITION.sub(" ", text)
    assert estimate_tokens(text) == cjk * 17 // 20 + len(_PIECE_DEFINITION.findall(rest)) + text.count("\n") // 2


def test_long_text_is_sampled_not_read_whole() -> None:
    paragraph = "The river carries silt to the delta, where it settles into new land. " * 30
    short, long = estimate_tokens(paragraph), estimate_tokens(paragraph * 50)
    assert 45 * short <= long <= 55 * short  # scaled from samples, within a few percent


def test_the_cache_gives_the_estimate_and_holds_a_bounded_number() -> None:
    cache = EstimateCache(entries=50)
    history = [f"Turn {i}: the river carries silt to delta number {i}, where it settles." for i in range(120)]
    long_text = "A long retrieved passage about estuaries. " * (2 * SAMPLE // 40 + 5)
    for turn in range(1, len(history) + 1):  # a conversation resending its history every turn
        for text in [*history[:turn][-30:], long_text]:
            assert cache(text) == estimate_tokens(text)
        assert len(cache) <= 50
    assert len(cache) > 0
