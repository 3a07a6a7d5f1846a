"""Per-account and per-fingerprint detection state: the reference implementation.

The memory store keeps these objects; the Redis store keeps the same numbers in
a hash, a list and a set per key and updates them in ``admit.lua`` /
``campaign.lua`` / ``settle.lua`` with exactly this arithmetic (the conformance
suite compares the two). Everything is bounded: a fixed set of counters, a
ring of ``RING`` observations, at most ``CAMPAIGN_ACCOUNTS`` accounts per
fingerprint.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from proxy.detect import (
    DAY,
    FLAG_COUNTERS,
    LONG_COUNTERS,
    REVISITS,
    RING,
    SHORT_COUNTERS,
    SUBJECTS,
    Campaign,
    Observation,
    Outcome,
    Window,
    revisits,
    subject_words,
)
from proxy.text import template_stats

GAP_ALPHA = 0.1  # EWMA weight of the newest inter-arrival gap
CAMPAIGN_ACCOUNTS = 256  # distinct accounts remembered per fingerprint (enough to saturate the signal)
CAMPAIGN_HALF_LIFE = 6 * 3600.0
HOUR = 3600.0


def _decayed(values: list[float], elapsed: float, half_life: float) -> None:
    if elapsed <= 0.0:
        return
    factor = math.exp2(-elapsed / half_life)
    values[:] = [v * factor for v in values]


class _Templates:
    """The ring's distinct prompts and their template ends, kept up to date as prompts come and
    go, so the template statistics cost a few dict operations per request, not a pass over the ring.

    A prompt is its (query hash, skeleton); an exact repeat adds no template evidence (see
    ``proxy.text.template_stats``), so ends are counted once per distinct prompt in the ring.
    Zero halves (no template end) belong to no group."""

    __slots__ = ("occurrences", "by_open", "by_close", "pair_n", "recurring")

    def __init__(self) -> None:
        self.occurrences: dict[tuple[int, int], int] = {}  # (query, skeleton) -> times in the ring
        self.by_open: dict[int, list[tuple[int, int]]] = {}  # opening -> the distinct prompts with it
        self.by_close: dict[int, list[tuple[int, int]]] = {}
        self.pair_n: dict[int, int] = {}  # skeleton (both halves set) -> distinct prompts with it
        self.recurring: set[tuple[int, int]] = set()  # prompts sharing an opening or closing with another

    def stats(self, query: int, skeleton: int) -> tuple[int, int]:
        """``proxy.text.template_stats`` for the request just ``add``-ed, against the rest of the ring."""
        o, c = skeleton >> 16, skeleton & 0xFFFF
        if not (o or c):
            return 0, len(self.recurring)
        # Other prompts with this opening, with this closing, less those with both (this one is in each).
        same = (len(self.by_open[o]) - 1 if o else 0) + (len(self.by_close[c]) - 1 if c else 0)
        if o and c:
            same -= self.pair_n[skeleton] - 1
        return same, len(self.recurring)

    def add(self, query: int, skeleton: int) -> None:
        prompt = (query, skeleton)
        n = self.occurrences.get(prompt, 0)
        self.occurrences[prompt] = n + 1
        if n:
            return
        o, c = skeleton >> 16, skeleton & 0xFFFF
        changed = [prompt]
        for groups, end in ((self.by_open, o), (self.by_close, c)):
            if end:
                group = groups.get(end)
                if group is None:
                    groups[end] = [prompt]
                else:
                    group.append(prompt)
                    if len(group) == 2:
                        changed.append(group[0])  # no longer alone with this end
        if o and c:
            self.pair_n[skeleton] = self.pair_n.get(skeleton, 0) + 1
        for p in changed:
            self._classify(p)

    def remove(self, query: int, skeleton: int) -> None:
        prompt = (query, skeleton)
        n = self.occurrences[prompt] - 1
        if n:
            self.occurrences[prompt] = n
            return
        del self.occurrences[prompt]
        self.recurring.discard(prompt)
        o, c = skeleton >> 16, skeleton & 0xFFFF
        changed = []
        for groups, end in ((self.by_open, o), (self.by_close, c)):
            if end:
                group = groups[end]
                group.remove(prompt)
                if not group:
                    del groups[end]
                elif len(group) == 1:
                    changed.append(group[0])  # now alone with this end
        if o and c:
            k = self.pair_n[skeleton] - 1
            if k:
                self.pair_n[skeleton] = k
            else:
                del self.pair_n[skeleton]
        for p in changed:
            self._classify(p)

    def _classify(self, prompt: tuple[int, int]) -> None:
        skeleton = prompt[1]
        o, c = skeleton >> 16, skeleton & 0xFFFF
        if (o and len(self.by_open[o]) > 1) or (c and len(self.by_close[c]) > 1):
            self.recurring.add(prompt)
        else:
            self.recurring.discard(prompt)


class AccountWindow:
    __slots__ = (
        "t", "short", "long", "ring", "templates", "last", "gap_mean", "gap_var", "gaps", "hours", "risk", "risk_t",
        "since", "subjects", "subject_words",
    )  # fmt: skip

    def __init__(self) -> None:
        self.t = 0.0
        self.short = [0.0] * len(SHORT_COUNTERS)
        self.long = [0.0] * len(LONG_COUNTERS)
        # The ring of recent observations, one column per field: deque.count and set()
        # over a column run in C, the cheapest way to get the ring statistics per request.
        self.ring = tuple(deque(maxlen=RING) for _ in range(6))  # query, skeleton, topic, lang, bias, seed
        self.templates = _Templates()  # the ring's prompts again, as the template statistics need them
        self.last = 0.0
        self.gap_mean = 0.0
        self.gap_var = 0.0
        self.gaps = 0
        self.hours = [0.0] * 24  # last time each hour of the day saw traffic
        self.risk = 0.0
        self.risk_t = 0.0
        self.since: float | None = None  # the first request's time (a virtual clock may start at 0)
        self.subjects: deque[int] = deque(maxlen=SUBJECTS)  # of the last stand-alone questions, oldest first
        self.subject_words: deque[tuple[int, ...]] = deque(maxlen=SUBJECTS)  # the same, split into words

    def _age(self, now: float, half_life: float) -> None:
        if self.t:
            _decayed(self.short, now - self.t, half_life)
            _decayed(self.long, now - self.t, DAY)
        self.t = max(self.t, now)

    def admit(self, obs: Observation, now: float, half_life: float, risk_half_life: float) -> Window:
        self._age(now, half_life)
        if self.since is None:
            self.since = now
        short = self.short
        short[0] += 1.0
        flags = obs.flags
        if flags:
            for flag, index in FLAG_COUNTERS:
                if flags & flag:
                    short[index] += 1.0
        self.long[0] += 1.0
        if obs.subject:
            words = subject_words(obs.subject)
            if revisits(self.subject_words, words):
                short[REVISITS] += 1.0
            self.subjects.append(obs.subject)
            self.subject_words.append(words)

        queries, skeletons, topics, langs, biases, seeds = self.ring
        ring = len(queries)
        same_query = queries.count(obs.query)
        seed_sweep = 0
        if same_query and obs.seed:
            seed_sweep = sum(1 for q, s in zip(queries, seeds) if q == obs.query and s and s != obs.seed)
        biased = ring - biases.count(0)
        if biased:
            bias_sets = set(biases)
            bias_sets.discard(0)
            bias_sets.add(obs.bias)
            bias_sets.discard(0)
            distinct_bias = len(bias_sets)
        else:  # almost every account: no logit_bias in the ring
            distinct_bias = 1 if obs.bias else 0
        distinct_topics = len(set(topics) | {obs.topic})
        distinct_langs = len(set(langs) | {obs.lang})
        self.templates.add(obs.query, obs.skeleton)
        same_skeleton, recurring = self.templates.stats(obs.query, obs.skeleton)
        if ring == RING:
            self.templates.remove(queries[0], skeletons[0])  # the oldest, leaving the ring now
        for column, value in zip(self.ring, (obs.query, obs.skeleton, obs.topic, obs.lang, obs.bias, obs.seed)):
            column.append(value)

        if self.last:
            gap = math.log1p(max(now - self.last, 0.0))
            if self.gaps == 0:
                self.gap_mean, self.gap_var = gap, 0.0
            else:
                delta = gap - self.gap_mean
                self.gap_mean += GAP_ALPHA * delta
                self.gap_var = (1.0 - GAP_ALPHA) * (self.gap_var + GAP_ALPHA * delta * delta)
            self.gaps += 1
        self.last = max(self.last, now)
        self.hours[int(now // HOUR) % 24] = now
        horizon = now - DAY
        active = sum(1 for seen in self.hours if seen and seen > horizon)

        return Window(
            counters=tuple(self.short),
            long_counters=tuple(self.long),
            ring=ring,
            same_query=same_query,
            same_skeleton=same_skeleton,
            recurring_templates=recurring,
            distinct_topics=distinct_topics,
            distinct_langs=distinct_langs,
            biased=biased + (1 if obs.bias else 0),
            distinct_bias=distinct_bias,
            seed_sweep=seed_sweep,
            gap_mean=self.gap_mean,
            gap_var=self.gap_var,
            gaps=self.gaps,
            active_hours=active,
            risk=self.risk * math.exp2(-max(now - self.risk_t, 0.0) / risk_half_life) if self.risk else 0.0,
            age=now - self.since,
        )

    def settle(self, outcome: Outcome, now: float, half_life: float) -> None:
        self._age(now, half_life)
        if outcome.served:
            short, long = outcome.settle_increments()
            for i, inc in enumerate(short):
                self.short[i] += inc
            for i, inc in enumerate(long):
                self.long[i] += inc
        # The stored risk is the peak, decaying: a few quiet requests do not clear a flag.
        self.risk = outcome.risk
        self.risk_t = now


class FingerprintWindow:
    """Traffic behind one campaign fingerprint, across accounts."""

    __slots__ = ("t", "requests", "flavored", "accounts")

    def __init__(self) -> None:
        self.t = 0.0
        self.requests = 0.0
        self.flavored = 0.0
        self.accounts: set[str] = set()

    def add(self, account: str, flavored: bool, now: float) -> tuple[int, float, float]:
        if self.t and now > self.t:
            factor = math.exp2(-(now - self.t) / CAMPAIGN_HALF_LIFE)
            self.requests *= factor
            self.flavored *= factor
        self.t = max(self.t, now)
        self.requests += 1.0
        self.flavored += 1.0 if flavored else 0.0
        if len(self.accounts) < CAMPAIGN_ACCOUNTS:
            self.accounts.add(account)
        return len(self.accounts), self.requests, self.flavored


def campaign_of(results: dict[str, tuple[int, float, float]]) -> Campaign:
    return Campaign(
        system=results.get("system", (0, 0.0, 0.0)),
        template=results.get("template", (0, 0.0, 0.0)),
        suffix=results.get("suffix", (0, 0.0, 0.0)),
        infra=results.get("infra", (0, 0.0, 0.0)),
    )


# ---- a read-only view, for the admin API ---------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectionState:
    """An account's stored detection state, as every backend returns it (read-only).

    ``ring``: the remembered observations, oldest first, each
    ``(query, skeleton, topic, lang, bias, seed)``.
    """

    t: float
    short: tuple[float, ...]
    long: tuple[float, ...]
    ring: tuple[tuple[int, ...], ...]
    last: float
    gap_mean: float
    gap_var: float
    gaps: int
    hours: tuple[float, ...]
    risk: float
    risk_t: float
    since: float  # the first request's time
    subjects: tuple[int, ...] = ()  # of the last stand-alone questions, oldest first


def state_of(window: AccountWindow) -> DetectionState:
    return DetectionState(
        t=window.t,
        short=tuple(window.short),
        long=tuple(window.long),
        ring=tuple(zip(*window.ring, strict=True)),
        last=window.last,
        gap_mean=window.gap_mean,
        gap_var=window.gap_var,
        gaps=window.gaps,
        hours=tuple(window.hours),
        risk=window.risk,
        risk_t=window.risk_t,
        since=window.t if window.since is None else window.since,
        subjects=tuple(window.subjects),
    )


def window_now(state: DetectionState, now: float, half_life: float, risk_half_life: float) -> Window:
    """The account's Window as of ``now``, without a new request: what ``assess`` explains.

    The ring statistics are those of the newest remembered request against the
    ones before it (what ``admit`` computed for it, give or take the one the ring
    dropped since); counters and the stored risk are decayed to ``now``.
    """
    elapsed = now - state.t if state.t else 0.0
    short = [v * math.exp2(-elapsed / half_life) if elapsed > 0 else v for v in state.short]
    long = [v * math.exp2(-elapsed / DAY) if elapsed > 0 else v for v in state.long]
    *earlier, newest = state.ring or ((0, 0, 0, 0, 0, 0),)
    columns = tuple(zip(*earlier, strict=True)) if earlier else ((),) * 6
    queries, skeletons, topics, langs, biases, seeds = columns
    query, skeleton, topic, lang, bias, seed = newest
    same_query = queries.count(query) if state.ring else 0
    same_skeleton, recurring = template_stats(list(zip(queries, skeletons)), query, skeleton)
    seed_sweep = sum(1 for q, s in zip(queries, seeds) if q == query and s and seed and s != seed)
    distinct_bias = set(biases) | {bias}
    distinct_bias.discard(0)
    return Window(
        counters=tuple(short),
        long_counters=tuple(long),
        ring=len(earlier),
        same_query=same_query,
        same_skeleton=same_skeleton,
        recurring_templates=recurring,
        distinct_topics=len(set(topics) | {topic}),
        distinct_langs=len(set(langs) | {lang}),
        biased=len(biases) - biases.count(0) + (1 if bias else 0),
        distinct_bias=len(distinct_bias),
        seed_sweep=seed_sweep,
        gap_mean=state.gap_mean,
        gap_var=state.gap_var,
        gaps=state.gaps,
        active_hours=sum(1 for seen in state.hours if seen and now - seen < DAY),
        risk=state.risk * math.exp2(-max(now - state.risk_t, 0.0) / risk_half_life) if state.risk else 0.0,
        age=now - state.since,
    )
