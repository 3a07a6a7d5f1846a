"""Token usage as the upstream reports it, and its cost in budget units."""

from __future__ import annotations

from typing import Any, NamedTuple

from proxy.config import TokenWeights


# A NamedTuple: immutable and cheap to build (one or more per request; see proxy/detect.py).
class Usage(NamedTuple):
    prompt: int = 0
    cached_prompt: int = 0
    completion: int = 0  # includes reasoning, as in OpenAI's usage
    reasoning: int = 0

    @property
    def visible_completion(self) -> int:
        """What the client received: hidden reasoning is billed but cannot be harvested."""
        return max(self.completion - self.reasoning, 0)

    def cost(self, w: TokenWeights) -> int:
        fresh_prompt = max(self.prompt - self.cached_prompt, 0)
        visible = max(self.completion - self.reasoning, 0)
        return round(
            fresh_prompt * w.prompt
            + self.cached_prompt * w.cached_prompt
            + visible * w.completion
            + self.reasoning * w.reasoning
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _detail(usage: dict[str, Any], key: str, field: str) -> int:
    details = usage.get(key)
    return _count(details.get(field)) if isinstance(details, dict) else 0


def parse_usage(usage: Any) -> Usage | None:
    """Chat/completions/embeddings (prompt_/completion_tokens) or Responses (input_/output_tokens)."""
    if not isinstance(usage, dict):
        return None
    if "input_tokens" in usage or "output_tokens" in usage:
        return Usage(
            prompt=_count(usage.get("input_tokens")),
            cached_prompt=_detail(usage, "input_tokens_details", "cached_tokens"),
            completion=_count(usage.get("output_tokens")),
            reasoning=_detail(usage, "output_tokens_details", "reasoning_tokens"),
        )
    if "prompt_tokens" not in usage and "completion_tokens" not in usage:
        return None
    return Usage(
        prompt=_count(usage.get("prompt_tokens")),
        cached_prompt=_detail(usage, "prompt_tokens_details", "cached_tokens"),
        completion=_count(usage.get("completion_tokens")),
        reasoning=_detail(usage, "completion_tokens_details", "reasoning_tokens"),
    )
