"""The `llm_judge` grader: a model reads a rubric and the output and says PASS or FAIL.

Options: `rubric` (text) or `rubric_file` (relative to the suite folder), `model` (required: the
verdict depends on it, so it is a decision, not a default), `provider` (`openai` - any
OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, ... - or `anthropic`), `base_url` (else
$OPENAI_BASE_URL / $ANTHROPIC_BASE_URL), and `pass`, the rule a verdict must meet: `verdict == PASS`
(the default), `score >= 0.7`, or both joined by `and`.

The judge runs at temperature 0. What it is told, and how its reply is read, is `_judge_prompt`;
where its verdicts are kept is `_judge_cache` (and `caching_in_store` here, which a run uses). This
module holds the clients and the grader. Only the provider's own SDK is needed: a judge on an
OpenAI-compatible endpoint runs where `anthropic` is not installed, and the other way round, and
a provider whose SDK is missing is refused when the grader is built, with the install line.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from casebank.errors import CasebankError, InvalidInput
from casebank.replay.graders._base import Grader, Verdict, shorten
from casebank.replay.graders._judge_cache import (
    MemoryVerdictCache,
    VerdictCache,
    asking,
    current_verdict_cache,
    set_verdict_cache,
)
from casebank.replay.graders._judge_prompt import (
    TEMPLATE_VERSION,
    NotVerdict,
    PassRule,
    build_messages,
    parse_judgement,
)
from casebank.replay.graders._options import REQUIRED, Choice, File, Text

if TYPE_CHECKING:
    from casebank.store import Store

__all__ = [
    "TEMPLATE_VERSION",
    "LLMJudge",
    "MemoryVerdictCache",
    "PassRule",
    "VerdictCache",
    "build_messages",
    "caching_in_store",
    "parse_judgement",
    "set_verdict_cache",
]

ANTHROPIC_MAX_TOKENS = 1024


@contextmanager
def caching_in_store(store: Store) -> Iterator[None]:
    """Within the block, embeddings and judge verdicts are cached in `store`.

    Leaving it closes the caches: a grader still running in a thread after the block (a run cut
    short by Ctrl-C) no longer touches the store, which the caller may be writing or closing."""
    from casebank.replay.graders._embedding import set_embedding_cache

    caches = store.grader_caches()
    previous_embeddings = set_embedding_cache(caches)
    previous_verdicts = set_verdict_cache(caches)
    try:
        yield
    finally:
        set_embedding_cache(previous_embeddings)
        set_verdict_cache(previous_verdicts)
        caches.close()


# -- clients --------------------------------------------------------------------------------------

_clients: dict[tuple[str, str | None, str], Any] = {}
_clients_lock = threading.Lock()
_KEYS = {"openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"), "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}


def _client(provider: str, base_url: str | None) -> Any:
    key_env, url_env = _KEYS[provider]
    url = base_url or os.environ.get(url_env) or None
    api_key = os.environ.get(key_env) or ""
    if not api_key:
        if url is None:
            raise CasebankError(
                f"grader 'llm_judge' needs ${key_env} for provider {provider} - set it, or give "
                "--option base_url=URL of a compatible server"
            )
        api_key = "unused"  # a local server takes any key
    with _clients_lock:
        client = _clients.get((provider, url, api_key))
        if client is None:
            if provider == "anthropic":
                import anthropic

                client = anthropic.Anthropic(base_url=url, api_key=api_key, timeout=120.0, max_retries=3)
            else:
                import openai

                client = openai.OpenAI(base_url=url, api_key=api_key, timeout=120.0, max_retries=3)
            _clients[(provider, url, api_key)] = client
    return client


def _ask(provider: str, base_url: str | None, model: str, system: str, user: str) -> str:
    client = _client(provider, base_url)
    if provider == "anthropic":
        message = client.messages.create(
            model=model,
            max_tokens=ANTHROPIC_MAX_TOKENS,
            system=system,
            # The anthropic client this project pins no longer takes `temperature` as an argument;
            # the Messages API still reads it from the body.
            extra_body={"temperature": 0},
            messages=[{"role": "user", "content": user}],
        )
        return "".join(getattr(block, "text", "") for block in message.content)
    completion = client.chat.completions.create(
        model=model,
        temperature=0,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
    )
    return str(completion.choices[0].message.content or "") if completion.choices else ""


_SDKS = {"openai": "OpenAIError", "anthropic": "AnthropicError"}


def _api_errors() -> tuple[type[BaseException], ...]:
    """The base error of each provider SDK that is installed: a judge needs only its own."""
    errors: list[type[BaseException]] = []
    for module, error in _SDKS.items():
        try:
            errors.append(getattr(importlib.import_module(module), error))
        except ImportError:
            continue
    return tuple(errors)


def _sdk_missing(provider: str) -> bool:
    try:
        return importlib.util.find_spec(provider) is None
    except (ImportError, ValueError):  # a finder that refuses the name, or a module without a spec
        return True


# -- the grader -----------------------------------------------------------------------------------


class LLMJudge(Grader):
    """A model judges the output against a rubric (option `rubric` or `rubric_file`); option `pass` decides."""

    name = "llm_judge"
    summary = "an LLM judge following a rubric says PASS (the output is fenced as data)"
    expected_help = "a reference answer the judge is shown"
    exactly_one = (("rubric", "rubric_file"),)
    rubric_text = Text(
        option="rubric", help="what a passing output does", fix="give the rubric as text: what a passing output does"
    )
    rubric_file = File(help="the rubric in a text file")
    model = Text(
        REQUIRED,
        help="the judge's model; the verdict depends on it, so there is no default",
        placeholder="NAME",
        missing="grader 'llm_judge' needs --option model=NAME (e.g. gpt-4o-mini, or the model your server serves)",
    )
    provider = Choice("openai", ("openai", "anthropic"), help="an OpenAI-compatible endpoint, or Anthropic's API")
    base_url = Text(
        help="the endpoint (else $OPENAI_BASE_URL or $ANTHROPIC_BASE_URL)",
        placeholder="URL",
        fix="give the endpoint's URL, e.g. http://localhost:8000/v1",
    )
    pass_rule = Text(
        "verdict == PASS",
        option="pass",
        help="when a verdict passes: 'verdict == PASS', 'score >= 0.7', or both joined by 'and'",
        placeholder="RULE",
        fix="use 'verdict == PASS', 'score >= 0.7' or both joined by 'and'",
    )

    def prepare(self) -> None:
        rubric = self.rubric_text
        if self.rubric_file is not None:
            path, given = self.rubric_file, self.options["rubric_file"]
            try:
                rubric = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise self.invalid("rubric_file", given, f"cannot read '{path}': {exc}") from None
            if not rubric.strip():
                raise self.invalid("rubric_file", given, f"'{path}' is empty - write the rubric")
        assert rubric is not None  # exactly one of the two
        self.rubric: str = rubric
        self.model_name = self.model.strip()
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise self.invalid("base_url", self.base_url, "give the endpoint's URL, e.g. http://localhost:8000/v1")
        try:
            self.rule = PassRule(self.pass_rule)
        except ValueError as exc:
            raise self.invalid(
                "pass",
                self.pass_rule,
                f"cannot read {str(exc)!r}: use 'verdict == PASS', 'score >= 0.7' or both joined by 'and'",
            ) from None
        if _sdk_missing(self.provider):
            raise InvalidInput(
                f"grader 'llm_judge' provider {self.provider} needs the {self.provider} package - "
                f"pip install {self.provider}"
            )

    def cache_key(self, output: Any, expected: Any) -> str:
        """`sha256:` over everything the judge's answer depends on (not the pass rule, not the URL)."""
        material = {
            "template": TEMPLATE_VERSION,
            "provider": self.provider,
            "model": self.model_name,
            "rubric": self.rubric,
            "expected": expected,
            "output": output,
        }
        canonical = orjson.dumps(material, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        return "sha256:" + hashlib.sha256(canonical).hexdigest()

    def judge(self, output: Any, expected: Any) -> dict[str, Any]:
        """The judge's answer {"verdict", "score", "reason"}, from the cache or the model.

        Raises CasebankError when the call fails or the reply holds no verdict (neither is cached)."""
        key = self.cache_key(output, expected)
        cache = current_verdict_cache()
        cached = cache.get_verdict(key)
        if cached is not None:
            return cached
        with asking.holding(key):
            # Another thread may have asked the same question while this one waited.
            cached = cache.get_verdict(key)
            if cached is not None:
                return cached
            return self._ask_and_cache(key, cache, output, expected)

    def _ask_and_cache(self, key: str, cache: VerdictCache, output: Any, expected: Any) -> dict[str, Any]:
        system, user, _ = build_messages(self.rubric, expected, output)
        try:
            reply = _ask(self.provider, self.base_url, self.model_name, system, user)
        except _api_errors() as exc:
            raise CasebankError(
                f"judge {self.provider}:{self.model_name} call failed: {type(exc).__name__}: "
                f"{shorten(' '.join(str(exc).split()), 140)} - check model, base_url and the API key"
            ) from None
        try:
            answer = parse_judgement(reply)
        except NotVerdict as exc:
            raise CasebankError(str(exc)) from None
        cache.put_verdict(key, answer, model=f"{self.provider}:{self.model_name}")
        return answer

    def grade(self, output: Any, expected: Any) -> Verdict:
        try:
            answer = self.judge(output, expected)
        except CasebankError as exc:
            return Verdict(passed=False, reason=str(exc))
        verdict, score = answer.get("verdict"), answer.get("score")
        if score is None and verdict is not None:
            score = 1.0 if verdict == "PASS" else 0.0
        passed = self.rule.holds(verdict, answer.get("score") if self.rule.needs_score else score)
        said = verdict or "no verdict"
        if answer.get("score") is not None:
            said += f", score {answer['score']:.2f}"
        reason = answer.get("reason") or "no reason given"
        rule = "" if passed else f"; pass rule is '{self.rule.text}'"
        return Verdict(passed=passed, score=score, reason=shorten(f"judge said {said}: {reason}{rule}", 240))
