"""Each detector signal rises on its behaviour and stays low on the benign look-alike.

The requests go through the same pure pipeline as the proxy and replay
(request parsing, plan, memory store windows, judge, settlement), on a virtual
clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from proxy.config import Config, parse_config
from proxy.detect import Assessment, combine, seed_key
from proxy.gate import judge, outcome, plan
from proxy.policy import Decision
from proxy.request import CHAT, features_of
from proxy.store.memory import MemoryStore

TOPICS = [
    "photosynthesis", "the french revolution", "black holes", "supply and demand", "mitochondria", "plate tectonics",
    "the roman empire", "quantum entanglement", "keynesian economics", "the immune system", "baroque music",
    "machine learning", "volcanoes", "the silk road", "game theory", "climate feedback loops", "dna replication",
    "impressionist painting", "the cold war", "thermodynamics", "neural plasticity", "medieval castles",
    "cryptography", "ocean currents", "the renaissance", "antibiotic resistance", "linear algebra",
    "jazz improvisation", "the industrial revolution", "electromagnetism", "coral reefs", "stoic philosophy",
    "the printing press", "general relativity", "behavioral economics", "the water cycle", "ancient egypt",
    "protein folding", "urban planning", "the byzantine empire",
]  # fmt: skip


@dataclass
class Feed:
    config: Config
    store: MemoryStore = field(default_factory=lambda: MemoryStore(max_accounts=10_000))
    counter: itertools.count = field(default_factory=itertools.count)
    last: dict[str, tuple[Decision, Assessment | None]] = field(default_factory=dict)

    def send(self, account: str, ts: float, body: dict[str, Any], completion: int, prompt: int = 200,
             ip: str = "198.51.100.7", ua: str = "python-openai/1.40.0") -> tuple[Decision, Assessment | None]:
        features = features_of(CHAT, body)
        p = plan(self.config, account, self.config.default_tier, features, ip, ua)
        admission = self.store.admit_now(account, p.limits, p.cost, ts, f"r{next(self.counter)}", p.observation,
                                         p.half_lives)
        decision, assessment = judge(self.config, p, account, admission)
        self.store.settle_now(account, p.limits, admission, prompt + completion, ts,
                              outcome(p, decision, prompt, completion, True), p.half_lives)
        self.last[account] = (decision, assessment)
        return decision, assessment

    def value(self, account: str, signal: str) -> float:
        assessment = self.last[account][1]
        assert assessment is not None
        return next((s.value for s in assessment.signals if s.name == signal), 0.0)

    def risk(self, account: str) -> float:
        return self.last[account][0].risk


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


def human_times(count: int, start: float = 0.0) -> Iterable[float]:
    """Irregular, human-paced arrivals: think times from 20 s to 15 min."""
    t = start
    for i in range(count):
        t += 20 + (i * 7919 % 900)
        yield t


@pytest.fixture
def feed() -> Feed:
    return Feed(parse_config({}))


def test_cot_rises_on_systematic_elicitation_not_on_an_occasional_request(feed: Feed) -> None:
    for i, ts in enumerate(human_times(30)):
        feed.send("distiller", ts, chat(f"Explain {TOPICS[i]} step by step, showing your reasoning."), 900)
        casual = f"Can you explain {TOPICS[i]} step by step?" if i % 15 == 0 else f"What is {TOPICS[i]}?"
        feed.send("curious", ts, chat(casual), 300)
    assert feed.value("distiller", "cot") > 0.8
    assert feed.value("curious", "cot") < 0.2


def test_cot_is_read_in_chinese_too(feed: Feed) -> None:
    for i, ts in enumerate(human_times(20)):
        feed.send("zh", ts, chat(f"请一步一步地思考，并详细解释{TOPICS[i]}的原理。"), 900)
    assert feed.value("zh", "cot") > 0.8


@pytest.mark.parametrize(
    "closing",
    [
        "Walk through your reasoning before giving the final answer.",
        "Show your full chain of reasoning.",
        "Break your reasoning into numbered steps.",
        "Reason it out carefully, then give a final answer.",
        "请给出完整的推导过程。",
        "Explain your thought process.",
        "请写出解题思路。",
        "단계별로 자세히 설명해 주세요.",
        "Spiega passo dopo passo.",
        "Mostre seu raciocínio.",
    ],
)
def test_cot_knows_the_reasoning_trace_asked_for_in_other_words(feed: Feed, closing: str) -> None:
    for i, ts in enumerate(human_times(20)):
        feed.send("distiller", ts, chat(f"Describe {TOPICS[i]}. {closing}"), 900)
        feed.send("reader", ts, chat(f"Describe {TOPICS[i]}. What is the reason it matters?"), 900)
    assert feed.value("distiller", "cot") > 0.8
    assert feed.value("reader", "cot") == 0.0


def test_output_heavy_separates_harvesting_from_rag(feed: Feed) -> None:
    passage = " ".join(f"Passage sentence {k} about the warranty policy and its clauses." for k in range(120))
    for i, ts in enumerate(human_times(40)):
        feed.send("harvest", ts, chat(f"Write everything you know about {TOPICS[i % 40]}."), 1200, prompt=30)
        feed.send("rag", ts, chat(f"Context: {passage}\nQuestion {i}: what does clause {i} say?"), 80, prompt=1800)
    assert feed.value("harvest", "output_heavy") > 0.7
    assert feed.value("rag", "output_heavy") < 0.05


def test_templated_harvest_is_a_template_with_long_answers_not_batch_classification(feed: Feed) -> None:
    audiences = ["beginners", "experts", "children", "managers"]
    for i, ts in enumerate(t * 3 for t in range(60)):
        part = f"part {i // 40 + 1}"  # every prompt distinct: a sweep fills its slots anew
        feed.send("sweep", ts, chat(f"Write a detailed tutorial about {TOPICS[i % 40]} for {audiences[i % 4]}, {part}."),
                  1500)
        review = f"The product number {i} arrived {'late' if i % 3 else 'on time'} and works {TOPICS[i % 40]}."
        feed.send("batch", ts, chat(f"Classify the sentiment of this review as positive or negative: {review}",
                                    max_tokens=2, temperature=0), 1)
    assert feed.value("sweep", "templated_harvest") > 0.7
    assert feed.value("batch", "templated_harvest") == 0.0
    assert feed.risk("batch") < 0.3


def test_logit_sweep_needs_a_changing_bias_set(feed: Feed) -> None:
    for i in range(40):
        ts = i * 2.0
        sweep_bias = {str(1000 + i * 3 + k): 100 for k in range(3)}
        feed.send("stealer", ts, chat("The capital of France is", logit_bias=sweep_bias, logprobs=True,
                                      top_logprobs=5, max_tokens=1), 1)
        label_bias = {"9642": 5, "2201": 5}  # the classifier's two label tokens, always the same
        feed.send("classifier", ts, chat(f"Is review {i} positive? Answer yes or no.", logit_bias=label_bias,
                                         logprobs=True, top_logprobs=2, max_tokens=1), 1)
    assert feed.value("stealer", "logit_sweep") > 0.8
    assert feed.value("classifier", "logit_sweep") == 0.0
    assert feed.risk("classifier") < 0.3


def test_logprob_harvest_is_soft_labels_on_generations_not_an_eval_harness(feed: Feed) -> None:
    for i in range(40):
        ts = i * 30.0
        feed.send("soft", ts, chat(f"Describe {TOPICS[i]}.", logprobs=True, top_logprobs=20, max_tokens=800), 700)
        feed.send("evals", ts, chat(f"Question {i}: which is a noble gas? A) iron B) neon C) salt D) wood\nAnswer:",
                                    logprobs=True, top_logprobs=20, max_tokens=1, temperature=0), 1)
    assert feed.value("soft", "logprob_harvest") > 0.8
    assert feed.value("evals", "logprob_harvest") == 0.0
    assert feed.risk("evals") < 0.3


def test_sampling_harvest_hot_n_and_seed_sweeps(feed: Feed) -> None:
    for i in range(30):
        ts = i * 40.0
        feed.send("sampler", ts, chat(f"Solve: {TOPICS[i]}", n=8, temperature=1.2), 4000)
        feed.send("seeder", ts, chat("Prove that there are infinitely many primes.", seed=i, temperature=1.0), 900)
        feed.send("normal", ts, chat(f"Tell me about {TOPICS[i]}", temperature=0.7), 300)
    assert feed.value("sampler", "sampling") > 0.8
    assert feed.value("seeder", "sampling") > 0.8
    assert feed.value("normal", "sampling") == 0.0


def test_multilingual_sweep_versus_a_bilingual_user_and_a_translation_service(feed: Feed) -> None:
    sweep = [
        "Explain step by step how vaccines train the immune system.",
        "Explica paso a paso cómo las vacunas entrenan el sistema inmunológico y qué es la memoria.",
        "Expliquez étape par étape comment les vaccins entraînent le système immunitaire et la mémoire.",
        "Erkläre Schritt für Schritt, wie Impfstoffe das Immunsystem trainieren und was das Gedächtnis ist.",
        "请一步一步地解释疫苗如何训练免疫系统。",
        "ワクチンが免疫系をどのように訓練するかステップバイステップで説明してください。",
        "Объясни шаг за шагом, как вакцины тренируют иммунную систему.",
    ]
    sources = [
        "The meeting is moved to Thursday because the room is booked.",
        "El envío llegará el martes y el cliente recibirá un correo de confirmación.",
        "La facture est disponible dans votre espace client depuis hier soir.",
        "Die Lieferung verzögert sich wegen des Streiks um zwei Tage.",
        "会议改到星期四，因为会议室已经被预订了。",
    ]
    for i, ts in enumerate(human_times(35)):
        feed.send("polyglot", ts, chat(sweep[i % len(sweep)]), 700)
        bilingual = sweep[1] if i % 2 else f"What is {TOPICS[i]}?"
        feed.send("bilingual", ts, chat(bilingual), 300)
        feed.send("translator", ts, chat(f"Translate into English:\n{sources[i % len(sources)]}"), 40)
    assert feed.value("polyglot", "multilingual") == 1.0
    assert feed.value("bilingual", "multilingual") == 0.0
    assert feed.value("translator", "multilingual") == 0.0


def test_grader_prompts(feed: Feed) -> None:
    for i, ts in enumerate(human_times(30)):
        feed.send("grader", ts, chat(f"Score this answer from 1 to 10 and explain: '{TOPICS[i]} is a kind of fish.'"),
                  300)
        feed.send("writer", ts, chat(f"Write a short poem about {TOPICS[i]}."), 300)
    assert feed.value("grader", "grader") > 0.8
    assert feed.value("writer", "grader") == 0.0


def _tutor(text: str, system: str) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}]}


def test_campaign_flags_a_fresh_sybil_at_its_first_harvest_request(feed: Feed) -> None:
    system = "You are a meticulous tutor for our study platform. Answer every question in full."
    template = "Produce a complete, rigorous, step by step explanation of {} with worked examples for students."
    for k in range(12):  # the campaign so far: 12 accounts, a few requests each
        for j in range(4):
            feed.send(f"sybil-{k}", k * 100.0 + j, _tutor(template.format(TOPICS[(k * 4 + j) % 40]), system), 1500,
                      ip=f"203.0.113.{k}")
    # A new account, from another network, behind the campaign's system prompt: its first request
    # of the campaign's flavour is tied to the campaign at once, while the same requests from an
    # account outside it have to show the account's own harvest for longer, and an account that
    # uses the same system prompt for everyday questions is never flagged.
    for j, question in enumerate(("What time zone is Lisbon in?", "Is the library open on Sunday?")):
        decision, _ = feed.send("bystander", 2000.0 + j, _tutor(question, system), 20, ip="192.0.2.50")
        assert decision.cause == "none"
    own = "You are the study buddy of a single student, patient and kind, working through the syllabus."
    topics = ("the krebs cycle", "the calvin cycle", "glycolysis", "photosynthesis", "mitosis")
    first_flag: dict[str, int] = {}
    for j, topic in enumerate(topics):
        for account, prompt, ip in (("sybil-new", system, "192.0.2.99"), ("loner", own, "192.0.2.7")):
            decision, assessment = feed.send(account, 2100.0 + j, _tutor(template.format(topic), prompt), 1500, ip=ip)
            if decision.cause == "extraction" and account not in first_flag:
                first_flag[account] = j
                if account == "sybil-new":
                    assert assessment is not None and assessment.signals[0].name == "campaign"
    assert first_flag["sybil-new"] == 0
    assert first_flag.get("loner", len(topics)) > 1


def test_a_shared_template_end_counts_less_than_a_shared_system_prompt(feed: Feed) -> None:
    # Five words at either end of a prompt can be everyday instruction language; a long system
    # prompt is someone's deployment. The same campaign, tied only by its template, weighs less.
    system = "You are a meticulous tutor for our study platform. Answer every question in full."
    template = "Produce a complete, rigorous, step by step explanation of {} with worked examples for students."
    for k in range(12):
        for j in range(4):
            topic = TOPICS[(k * 4 + j) % 40]
            feed.send(f"by-system-{k}", k * 100.0 + j, _tutor(f"Explain {topic} step by step, in full.", system),
                      1500, ip=f"203.0.113.{k}")
            feed.send(f"by-phrase-{k}", k * 100.0 + j, chat(template.format(topic)), 1500, ip=f"198.51.100.{k}")
    by_system = feed.value("by-system-11", "campaign")
    by_phrase = feed.value("by-phrase-11", "campaign")
    assert by_system > 0.9
    assert 0.5 < by_phrase < by_system


def test_a_sweep_spread_over_accounts_ties_a_fresh_account_without_reasoning_asked_for(feed: Feed) -> None:
    # A sybil campaign that asks for no reasoning ("write a complete study guide on ..."), with no
    # system prompt, from fresh accounts of a few requests each: the template end they share,
    # kept to and answered at many times the prompt's length, flags a new member by its 3rd request.
    template = "Write a complete study guide on {}, with explanations and examples."
    for k in range(12):
        for j in range(4):
            feed.send(f"member-{k}", k * 300.0 + j * 40, chat(template.format(TOPICS[(k * 4 + j) % 40])), 1400,
                      prompt=30, ip=f"203.0.113.{k}")
    flags = [feed.send("member-new", 4000.0 + j * 40, chat(template.format(TOPICS[(j + 9) % 40])), 1400, prompt=30,
                       ip="192.0.2.99")[0].cause for j in range(4)]
    assert flags.index("extraction") <= 2
    assert feed.value("member-new", "campaign") > 0.5
    # Its look-alike: users of one coding tool send its canned instruction over pasted code,
    # every time, with long answers, but no longer than the prompts: neither the campaign nor
    # each user's own templating flags them.
    instruction = "Explain what the following code does and point out any bugs:\n```python\n{}\n```"
    for k in range(13):
        for j in range(4):
            code = f"def handler_{k}_{j}(event):\n    return process(event['{TOPICS[(k + j) % 40]}'])"
            decision, _ = feed.send(f"ide-{k}", k * 300.0 + j * 40, chat(instruction.format(code)), 500, prompt=600,
                                    ip=f"198.51.100.{k}")
    assert feed.value("ide-12", "campaign") == 0.0
    assert feed.value("ide-12", "templated_harvest") < 0.3
    assert decision.cause == "none"


def test_a_shared_template_end_implicates_only_an_account_that_keeps_to_it(feed: Feed) -> None:
    # Strangers share instruction phrases ("... with worked examples for students."): a curious
    # human who ends one varied question that way is not tied to the campaign that uses it on
    # every request; an account that fills the template over and over is.
    template = "Produce a complete, rigorous, step by step explanation of {} with worked examples for students."
    for k in range(12):
        for j in range(4):
            feed.send(f"by-phrase-{k}", k * 100.0 + j, chat(template.format(TOPICS[(k * 4 + j) % 40])), 1500,
                      ip=f"198.51.100.{k}")
    questions = (
        "Why do we dream? Walk me through the theories step by step.",
        "hey, how does a bill become law in the US?",
        "What's the difference between a virus and a bacterium? Show your reasoning.",
        "any good books on the history of Rome?",
        "is it worth learning Rust in 2026",
    )
    for j, question in enumerate(questions):
        feed.send("curious", 2000.0 + j * 300, chat(question), 600, ip="192.0.2.40")
    decision, _ = feed.send("curious", 3500.0, chat(template.format("the water cycle")), 900, ip="192.0.2.40")
    assert feed.value("curious", "campaign") == 0.0
    assert decision.cause == "none"
    for j in range(3):
        feed.send("filler", 2000.0 + j * 300, chat(template.format(TOPICS[(j + 7) % 40])), 1500, ip="192.0.2.41")
    assert feed.value("filler", "campaign") > 0.2


def test_an_eval_harness_with_chain_of_thought_is_not_a_grader(feed: Feed) -> None:
    # Few-shot multiple choice with "Let's think step by step": an option such as "interest rate
    # swaps" sits a line above "Answer: A", which is no instruction to rate an answer.
    shots = (
        "Which of the following is NOT a topic in finance?\nA. Maxwell's equations\nB. futures contracts\n"
        "C. the Black-Scholes model\nD. interest rate swaps\nAnswer: A\n\n"
    )
    for i, ts in enumerate(human_times(20)):
        item = f"Which of the following is most closely associated with {TOPICS[i]}?\nA. x\nB. y\nC. z\nD. w\n"
        prompt = f"The following are multiple choice questions (with answers).\n\n{shots}{item}Answer: Let's think step by step."
        feed.send("evals", ts, chat(prompt, max_tokens=1024, temperature=0), 250)
        feed.send("judge-harvest", ts, chat(f"Rate the following answer about {TOPICS[i]} from 1 to 10 and explain."), 400)
    assert feed.value("evals", "grader") == 0.0
    assert feed.risk("evals") < 0.3
    assert feed.value("judge-harvest", "grader") > 0.8


def test_shared_team_system_prompt_is_not_a_campaign(feed: Feed) -> None:
    system = "You are Acme Corp's internal assistant. Be concise, cite internal policies when relevant, be polite."
    for k in range(12):
        for j, ts in enumerate(human_times(6, start=k * 50.0)):
            body = {"model": "m", "messages": [{"role": "system", "content": system},
                                                {"role": "user", "content": f"How do I file {TOPICS[(k + j) % 40]} expenses?"}]}
            feed.send(f"team-{k}", ts, body, 200, ip="198.51.100.20")
    assert feed.value("team-11", "campaign") == 0.0
    assert feed.value("team-11", "infrastructure") == 0.0
    assert feed.risk("team-11") < 0.3


def test_pacing_machine_regular_around_the_clock(feed: Feed) -> None:
    for i in range(300):
        ts = i * 290.0 + (i % 3)  # every ~5 minutes, day and night
        feed.send("bot", ts, chat(f"Give a long answer about {TOPICS[i % 40]} number {i}."), 900)
    assert feed.value("bot", "pacing") > 0.8


def test_risk_decays_once_the_behaviour_stops(feed: Feed) -> None:
    for i, ts in enumerate(human_times(40)):
        feed.send("reformed", ts, chat(f"Explain {TOPICS[i]} step by step in great detail."), 1500)
    flagged = feed.risk("reformed")
    assert flagged >= 0.5
    later = 40 * 3600.0
    for i, ts in enumerate(human_times(10, start=later)):
        feed.send("reformed", ts, chat(f"What time zone is {TOPICS[i]} in?"), 20)
    assert feed.risk("reformed") < 0.2


def test_shadow_mode_reports_but_allows_and_allowlist_skips() -> None:
    shadow = Feed(parse_config({"detection": {"mode": "shadow", "allowlist": ["friend"]}}))
    for i, ts in enumerate(human_times(40)):
        decision, _ = shadow.send("distiller", ts, chat(f"Explain {TOPICS[i]} step by step in great detail."), 1500)
        friendly, assessment = shadow.send("friend", ts, chat(f"Explain {TOPICS[i]} step by step in great detail."),
                                           1500)
    assert decision.cause == "extraction" and decision.shadow and decision.enforced_action == "allow"
    assert decision.record(7, 1.0, "distiller")["shadow"] is True
    assert friendly.action == "allow" and assessment is None


def test_capability_harvest_is_hard_problems_answered_at_length_not_a_coding_assistant(feed: Feed) -> None:
    for i, ts in enumerate(human_times(40)):
        feed.send("olympiad", ts, chat(f"Prove that the sequence defined by {TOPICS[i]} converges, then implement "
                                       "the algorithm in Python with its time complexity."), 1800, prompt=60)
        code = "def handler(event):\n    return process(event['body'])\n" * 20
        feed.send("ide", ts, chat(f"Why does this function fail on empty input?\n```python\n{code}```"), 150, prompt=900)
    assert feed.value("olympiad", "capability") > 0.8
    assert feed.value("ide", "capability") == 0.0
    assert feed.risk("ide") < 0.3


def test_capability_is_no_multiple_choice_math_eval_however_long_its_reasoning(feed: Feed) -> None:
    # A math benchmark run with chain of thought: hard problems, answers of 600 tokens, but the
    # answer is a letter. The same problems asked open-ended are capability harvest.
    for i, ts in enumerate(human_times(40)):
        problem = f"Prove that the polynomial sequence built from {TOPICS[i]} converges and find its limit."
        item = f"{problem}\nA. 0\nB. 1\nC. e\nD. it diverges\n"
        prompt = f"The following are multiple choice questions (with answers) about mathematics.\n\n{item}Answer:"
        feed.send("math-eval", ts, chat(prompt, max_tokens=1024, temperature=0), 600, prompt=120)
        feed.send("math-harvest", ts, chat(problem), 600, prompt=40)
    assert feed.value("math-eval", "capability") < 0.2  # the share of open answers has a prior: not quite 0
    assert feed.risk("math-eval") < 0.5  # heavy varied use alone (output_heavy, coverage) takes no action
    assert feed.value("math-harvest", "capability") > 0.8


def test_coverage_needs_breadth_long_answers_and_time(feed: Feed) -> None:
    for i, ts in enumerate(human_times(40)):
        feed.send("encyclopedist", ts, chat(f"Tell me everything you know about {TOPICS[i]}, with its history."), 1500)
        feed.send("support-bot", ts, chat(f"Order {i} is late, what should I tell the customer about shipping?"), 120)
    assert feed.value("encyclopedist", "coverage") > 0.6
    assert feed.value("support-bot", "coverage") == 0.0


def test_volume_counts_a_days_completion_tokens_at_length(feed: Feed) -> None:
    for i in range(1500):
        ts = i * 50.0
        feed.send("bulk", ts, chat(f"Write a complete guide to {TOPICS[i % 40]}, part {i}."), 1600)
        feed.send("classifier", ts, chat(f"Label ticket {i}: billing, bug or other?", max_tokens=3), 2)
    assert feed.value("bulk", "volume") > 0.8
    assert feed.value("classifier", "volume") == 0.0
    assert feed.risk("classifier") < 0.1


def test_flavored_volume_is_a_daily_rate_of_self_contained_reasoning_answers(feed: Feed) -> None:
    # A day of 55 stand-alone reasoning questions answered at length is harvest, even hidden in a
    # stream of ordinary chat. A heavy human asking 30 a day reads the same on day three as on
    # day one: the day-decayed count piles up to ~43 but is read as a rate of 30. Asked as the
    # follow-ups of conversations they do not count here; a made-up exchange in front of every
    # harvest request still shows in the share of reasoning asked for (cot).
    def day_of(count: int, day: int) -> Iterable[float]:
        return (day * 86400.0 + 60 + k * 86000.0 / count + (k * 7919 % 300) for k in range(count))

    ask = "Explain {} in depth. Walk through your reasoning step by step."
    history = [{"role": "user", "content": "hi, quick question"}, {"role": "assistant", "content": "Sure."}]
    for k, ts in enumerate(day_of(55, 0)):
        feed.send("harvester", ts, chat(ask.format(TOPICS[k % 40])), 1300)
        feed.send("harvester", ts + 30, chat(f"what's a good name for a cat called {k}?"), 80)
    for day in range(3):
        for k, ts in enumerate(day_of(30, day)):
            feed.send("scholar", ts, chat(ask.format(TOPICS[(k + day) % 40])), 1300)
    for k, ts in enumerate(day_of(55, 0)):
        follow_up = {"model": "m", "messages": [*history, {"role": "user", "content": ask.format(TOPICS[k % 40])}]}
        feed.send("conversant", ts, follow_up, 1300)
    for k, ts in enumerate(day_of(120, 0)):
        follow_up = {"model": "m", "messages": [*history, {"role": "user", "content": ask.format(TOPICS[k % 40])}]}
        feed.send("padded-harvester", ts, follow_up, 1300)
    assert feed.value("harvester", "flavored_volume") > 0.8
    assert feed.value("scholar", "flavored_volume") == 0.0
    assert feed.value("conversant", "flavored_volume") == 0.0
    assert feed.value("padded-harvester", "flavored_volume") == 0.0
    assert feed.value("padded-harvester", "cot") > 0.8


def test_a_follow_up_is_a_request_that_carries_an_earlier_answer() -> None:
    from proxy.request import RESPONSES

    assert not features_of(CHAT, chat("Explain black holes.")).follow_up
    system = {"role": "system", "content": "You are terse."}
    assert not features_of(CHAT, {"model": "m", "messages": [system, {"role": "user", "content": "hi"}]}).follow_up
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "why?"}]
    assert features_of(CHAT, {"model": "m", "messages": turns}).follow_up
    tool = [{"role": "user", "content": "weather?"}, {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    assert features_of(CHAT, {"model": "m", "messages": tool}).follow_up
    assert not features_of(RESPONSES, {"model": "m", "input": "Explain black holes."}).follow_up
    assert features_of(RESPONSES, {"model": "m", "input": "why?", "previous_response_id": "resp_1"}).follow_up
    items = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "why?"}]
    assert features_of(RESPONSES, {"model": "m", "input": items}).follow_up
    call = [{"role": "user", "content": "weather?"}, {"type": "function_call_output", "call_id": "c1", "output": "sunny"}]
    assert features_of(RESPONSES, {"model": "m", "input": call}).follow_up


def test_infrastructure_overlap_is_supporting_evidence_only(feed: Feed) -> None:
    # Twelve accounts behind one NAT with one SDK, harvesting: infrastructure adds to their risk...
    for k in range(12):
        for j, ts in enumerate(human_times(5, start=k * 10.0)):
            feed.send(f"farm-{k}", ts, chat(f"Explain {TOPICS[(k * 5 + j) % 40]} step by step, in great detail."), 1500,
                      ip="203.0.113.50", ua="python-httpx/0.27")
    assert feed.value("farm-11", "infrastructure") > 0.5
    # ...but alone it never reaches a flag: its weight stays below the lowest action level.
    weight = feed.config.tier("default").detection.weights["infrastructure"]
    assert weight < feed.config.tier("default").detection.levels.delay  # type: ignore[operator]


def test_templated_harvest_sees_templates_with_the_slot_first_and_several_in_turn(feed: Feed) -> None:
    # Slots at the start share the template's closing; three templates used in turn are still a sweep;
    # Chinese has no spaces, so its closing is read character by character.
    templates = [
        "Explain {t} to {a}. Then give 10 exercises with full worked solutions.",
        "Write a dialogue between a teacher and a student in which the teacher explains {t} to {a}.",
        "请围绕{t}生成10个问答对，答案要详细。",
    ]
    audiences = ["beginners", "experts", "children", "managers", "nurses"]
    questions = [
        "How does {t} actually work?", "why do people care about {t}", "I keep confusing {t} with something else",
        "What's a good book on {t}?", "can you summarise {t} for my exam tomorrow", "Is {t} overrated?",
        "ok so what about {t} then", "Give me an analogy for {t}.",
    ]
    for i, ts in enumerate(human_times(48)):
        text = templates[i % 3].format(t=TOPICS[i % 40], a=audiences[i % 5])
        feed.send("sweep", ts, chat(text), 1500)
        feed.send("curious", ts, chat(questions[i % 8].format(t=TOPICS[(i * 7) % 40])), 900)
    assert feed.value("sweep", "templated_harvest") > 0.7
    assert feed.value("curious", "templated_harvest") == 0.0


def test_heavy_varied_use_alone_stays_below_the_first_level(feed: Feed) -> None:
    # Long answers on many topics, day-long volume: a busy person or an app, not yet a harvest.
    # Output-heaviness, coverage and volume measure that one trait and count once together.
    levels = feed.config.tier(feed.config.default_tier).detection.levels
    assert levels.delay is not None
    syllables = ["ka", "ro", "mi", "tes", "lu", "van", "dor", "pe", "sil", "na", "bru", "qui", "zo", "fen", "ta",
                 "gho", "lei"]
    ts = 0.0
    for i in range(600):
        # Free wording: no opening or closing comes back (names stand in for a person's varied phrasing);
        # irregular gaps, and nights off.
        name = syllables[i % 17] + syllables[(i // 17) % 17] + syllables[(i // 289) % 17]
        text = f"{name.title()} asked me about {TOPICS[i % 40]} and its history; what should I answer {name}?"
        ts += 20 + (i * 7919 % 300)
        if ts % 86400 > 15 * 3600:
            ts += 86400 - ts % 86400 + 8 * 3600
        feed.send("busy", ts, chat(text), 3000)
    heavy = {s.name for s in (feed.last["busy"][1].signals if feed.last["busy"][1] else ())}
    assert {"output_heavy", "coverage", "volume"} <= heavy
    assert feed.risk("busy") < levels.delay


# ---- the template statistics, against their definition ---------------------------------


def _template_stats_by_definition(earlier: list[tuple[int, int]], query: int, skeleton: int) -> tuple[int, int]:
    """Over distinct prompts: those sharing a template end with this one; those sharing one with any other."""
    distinct = set(earlier) - {(query, skeleton)}
    halves = [(s >> 16, s & 0xFFFF) for s in [*(s for _, s in distinct), skeleton]]

    def shares(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return bool((a[0] and a[0] == b[0]) or (a[1] and a[1] == b[1]))

    same = sum(shares(halves[-1], h) for h in halves[:-1])
    recurring = sum(any(shares(h, other) for j, other in enumerate(halves) if j != i) for i, h in enumerate(halves))
    return same, recurring


def _random_prompt(rng: Any, pool: int, prompts: dict[int, int]) -> tuple[int, int]:
    """(query, skeleton): often a repeat of an earlier prompt (a retry, a tool-calling turn)."""
    if prompts and rng.random() < 0.3:
        query = rng.choice(list(prompts))
        return query, prompts[query]
    query = rng.getrandbits(32)
    skeleton = (0 if rng.random() < 0.1 else rng.randint(1, pool)) << 16 | (
        0 if rng.random() < 0.1 else rng.randint(1, pool))
    prompts[query] = skeleton
    return query, skeleton


def test_template_statistics_match_their_definition() -> None:
    import random

    from proxy.text import template_stats

    rng = random.Random(7)
    for _ in range(3000):
        pool = rng.randint(1, 40)  # few values: many shared openings and closings
        prompts: dict[int, int] = {}
        earlier = [_random_prompt(rng, pool, prompts) for _ in range(rng.randint(0, 64))]
        query, skeleton = _random_prompt(rng, pool, prompts)
        assert template_stats(earlier, query, skeleton) == _template_stats_by_definition(earlier, query, skeleton)


def test_a_repeated_prompt_is_no_template() -> None:
    """The last user message of a tool-calling conversation is re-sent on every turn: one prompt."""
    from proxy.text import template_stats

    fixed = 7 << 16 | 9
    assert template_stats([(1, fixed)] * 20, 1, fixed) == (0, 0)  # one question, asked 21 times
    assert template_stats([(q, fixed) for q in range(2, 22)], 1, fixed) == (20, 21)  # 21 fillings of a template


def test_the_memory_window_keeps_the_template_statistics_exact_as_the_ring_moves() -> None:
    """The memory store counts template ends as prompts enter and leave the ring; every request's
    figures must equal the statistics recomputed from the ring (what admit.lua does)."""
    import random

    from proxy.detect import RING, Observation
    from proxy.text import template_stats
    from proxy.windows import AccountWindow

    rng = random.Random(11)
    for trial in range(40):
        window, ring, prompts = AccountWindow(), [], {}
        pool = rng.choice((3, 10, 60, 5000))  # from one template to a person's every prompt new
        for i in range(3 * RING):
            query, skeleton = _random_prompt(rng, pool, prompts)
            obs = Observation(flags=0, query=query, skeleton=skeleton, topic=i, lang=1, bias=0, seed=0, system=0,
                              template=0, suffix=0, infra=0)
            got = window.admit(obs, 1e9 + i, 3600.0, 3600.0)
            expected = template_stats(ring[-RING:], query, skeleton)
            assert (got.same_skeleton, got.recurring_templates) == expected, (trial, i)
            ring.append((query, skeleton))


def test_the_ascii_skeleton_fast_path_hashes_as_the_general_path() -> None:
    import random

    from proxy.text import template_ends

    rng = random.Random(5)
    words = ["the", "1234", "explain", "x9", "42", "a", "why", "code", "0", "step"]
    for _ in range(5000):
        word_list = [rng.choice(words) for _ in range(rng.randint(0, 14))]
        head, tail = rng.random() < 0.8, rng.random() < 0.8
        assert template_ends(word_list, head, tail, ascii_text=True) == template_ends(word_list, head, tail)


def test_markers_in_ascii_text_are_read_at_word_starts_and_agree_with_the_full_regex() -> None:
    """ASCII text takes the word-anchored regexes (a third of the cost): a marker that starts a
    word reads as before, one inside a longer word no longer does; text in other scripts keeps
    the unanchored form."""
    import random

    from proxy import text

    assert text.has_cot("please think step by step.")
    assert not text.has_cot("show me the nonexhaustive list of exceptions")  # "exhaustive" inside a word
    assert text.has_cot("explique étape par étape") and text.has_cot("请一步一步解释")
    assert text.has_capability("```python\nprint(1)\n```") and text.has_capability("def f(x): return x")
    rng = random.Random(11)
    pool = ["step by step", "thorough", "explain your reasoning", "more detail", "```", "\\frac{1}{2}", "prove",
            "def run(", "score this answer", "on a scale of 1", "the", "cat", "3", "x"]
    families = (text._COT_REGEXES, text._CAPABILITY_REGEXES, text._GRADER_REGEXES)
    for _ in range(3000):
        lower = "".join(rng.choice(pool) + rng.choice([" ", ". ", "\n", ", "]) for _ in range(rng.randint(1, 10)))
        for full, ascii_only in families:
            assert (full.search(lower) is None) == (ascii_only.search(lower) is None), lower


def test_the_capability_word_shortcut_agrees_with_the_regex() -> None:
    """A whole-word alternative skips the regex pass: it must never change the answer."""
    import random

    from proxy import text

    rng = random.Random(3)
    pool = [*sorted(text._CAPABILITY_SURE), "the", "proof-based", "eigenvalue", "```", "write", "python", "é", "3", "_"]
    for _ in range(5000):
        prompt = "".join(rng.choice(pool) + rng.choice([" ", "", ".", "-", "_", "\n"]) for _ in range(rng.randint(1, 12)))
        lower = prompt.lower()
        vocab = set(text.tokens(lower))
        gated_regex = text._gated(text._CAPABILITY_REGEXES, lower, vocab, text._CAPABILITY_WORDS, text._CAPABILITY_SUBSTRINGS)
        assert text.has_capability(lower, vocab) == gated_regex, prompt


def test_signals_of_one_trait_count_once_and_independent_evidence_adds_up() -> None:
    # A curious human who asks for explanations, many a day, in three languages shows cot,
    # flavored_volume and multilingual together: one trait, judged on its strongest. Reasoning
    # asked for by one template over and over is two pieces of evidence, and they add up.
    policy = parse_config({}).tier("default").detection
    weights = policy.weights
    one_trait = combine({"cot": 0.7, "flavored_volume": 0.7, "multilingual": 0.7}, policy)
    assert one_trait.risk == pytest.approx(0.7 * max(weights["cot"], weights["flavored_volume"], weights["multilingual"]))
    assert one_trait.risk < policy.levels.delay
    two_kinds = combine({"cot": 0.9, "templated_harvest": 0.9}, policy)
    expected = 1 - (1 - 0.9 * weights["cot"]) * (1 - 0.9 * weights["templated_harvest"])
    assert two_kinds.risk == pytest.approx(expected)
    assert two_kinds.risk >= policy.levels.delay


ASPECTS = [
    "Explain the history of {}.", "Write a detailed lecture on {} for teachers.", "What are the open problems in {}?",
    "Give worked examples that illustrate {}.", "What do students usually get wrong about {}?",
]


def test_subject_sweep_is_a_topic_plan_asked_aspect_by_aspect_not_a_curious_person(feed: Feed) -> None:
    # A distiller's plan: every subject asked from several angles, each a question on its own,
    # subject after subject. The look-alikes: a person asking about one subject after another in
    # a habitual phrasing; a student who stays on one subject within a conversation; a chemist
    # whose every question is about chemistry.
    times = list(human_times(40))
    for i, ts in enumerate(times):
        topic = TOPICS[i // 4]
        feed.send("planner", ts, chat(ASPECTS[i % 4].format(topic)), 1200)
        feed.send("curious", ts, chat(f"Thanks in advance! Could you give me a brief overview of {TOPICS[i]}?"), 1200)
        history = [{"role": "user", "content": f"Tell me about {TOPICS[i // 10]}."},
                   {"role": "assistant", "content": "It is a broad subject."}]
        follow_up = {"model": "m", "messages": [*history, {"role": "user", "content": ASPECTS[i % 5].format("it")}]}
        feed.send("student", ts, follow_up, 1200)
        feed.send("chemist", ts, chat(f"In organic chemistry, why is reaction number {i} of {TOPICS[i]} exothermic?"),
                  1200)
    assert feed.value("planner", "subject_sweep") > 0.9
    assert feed.risk("planner") >= 0.5
    for account in ("curious", "student", "chemist"):
        assert feed.value(account, "subject_sweep") == 0.0, account


def test_a_subject_survives_rewording_and_ignores_the_words_of_asking() -> None:
    from proxy.detect import subject_words
    from proxy.text import subject_of, tokens

    def words(text: str) -> set[int]:
        return set(subject_words(subject_of(tokens(text.lower()))))

    meiji = [words("Write a detailed lecture on the Meiji Restoration for teachers."),
             words("Can you explain the Meiji Restoration? Think step by step."),
             words("I want to master the Meiji Restoration: everything, starting with its causes.")]
    assert all(m & meiji[0] for m in meiji[1:])
    assert not words("Could you please explain this in more detail? Thanks!")
    assert not words("请详细解释明治维新的历史背景")  # no spaces to find words by
    assert not words(" ".join(["word"] * 151))  # a document, not a question


def test_a_seed_of_any_size_is_kept_as_a_number_a_double_holds() -> None:
    """The ring keeps seeds as doubles (Redis's Lua has no other number): a client's seed past 2**52
    is known by a hash, still told apart from every other seed, and small seeds stay themselves + 1."""
    seeds = [0, 41, -7, 2**52, 2**53 + 1, 2**63, 2**64 - 1, -(2**63)]
    keys = [seed_key(s) for s in seeds]
    assert keys[:3] == [1, 42, -6] and seed_key(None) == 0
    assert all(abs(k) < 2**53 and int(float(k)) == k for k in keys)
    assert len(set(keys)) == len(keys)
