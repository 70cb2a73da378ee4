"""The store's side of the meaning graders: embedding and verdict caches, labels, calibrations.

Functions that take a `Store` rather than methods on it, so that this file can grow with the
graders without touching `_store.py`. Like the rest of `store/` it imports nothing of casebank's
but `casebank.errors`.

`StoreCaches` is what a run hands the graders (`casebank.replay.graders.caching_in_store`): one
object with the two cache interfaces the graders expect (`get_embeddings`/`put_embeddings`,
`get_verdict`/`put_verdict`). The runner grades from several threads over one connection, so
every call holds a lock; SQLite does the rest. `close()` ends its use of the store: a grade that a
Ctrl-C left running in its thread may answer after the run, while the run is being recorded over
that very connection, and its statements must not land inside that transaction or after the
store is closed. After `close()` the caches find nothing and keep nothing.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.errors import AmbiguousId, InvalidInput, NotFound, TraceNotFound
from casebank.store._store import Store, utc_now

__all__ = [
    "LABELS",
    "StoreCaches",
    "add_label",
    "latest_calibration",
    "list_labels",
    "output_hash",
    "record_calibration",
    "resolve_trace_id",
]

LABELS = ("good", "bad")
_CHUNK = 500  # SQLite's default limit on bound parameters is 999 (older builds): stay well under it


def output_hash(output: Any) -> str:
    """`sha256:` over an output's canonical JSON: how a label or a cache names an output."""
    canonical = orjson.dumps(output, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _unpack(blob: bytes, dimensions: int) -> list[float]:
    return list(struct.unpack(f"<{dimensions}f", blob))


class StoreCaches:
    """The graders' caches, kept in a store's `embedding_cache` and `judge_verdicts` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Stop using the store; waits for a statement in progress, never for a grader."""
        with self._lock:
            self._closed = True

    def get_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        unique = list(dict.fromkeys(text_hashes))
        with self._lock:
            if self._closed:
                return found
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                rows = self.store.conn.execute(
                    "SELECT text_hash, dimensions, vector FROM embedding_cache "
                    f"WHERE model = ? AND text_hash IN ({', '.join('?' * len(chunk))})",
                    [model, *chunk],
                )
                for text_hash, dimensions, blob in rows:
                    found[text_hash] = _unpack(blob, dimensions)
        return found

    def put_embeddings(self, model: str, vectors: Mapping[str, Sequence[float]]) -> None:
        if not vectors:
            return
        now = utc_now()
        self._write(
            "INSERT OR REPLACE INTO embedding_cache (model, text_hash, dimensions, vector, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(model, h, len(v), _pack(v), now) for h, v in vectors.items()],
        )

    def get_verdict(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if self._closed:
                return None
            row = self.store.conn.execute(
                "SELECT verdict, score, reason FROM judge_verdicts WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return {"verdict": row[0], "score": row[1], "reason": row[2]}

    def put_verdict(self, key: str, verdict: Mapping[str, Any], *, model: str = "") -> None:
        self._write(
            "INSERT OR REPLACE INTO judge_verdicts (key, model, verdict, score, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(key, model, verdict.get("verdict"), verdict.get("score"), verdict.get("reason"), utc_now())],
        )

    def _write(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run `sql` for each row in one transaction, unless the caches were closed."""
        with self._lock:
            if self._closed:
                return
            with self.store.transaction() as conn:
                conn.executemany(sql, rows)


# -- labels ---------------------------------------------------------------------------------------


def resolve_trace_id(store: Store, prefix: str) -> str:
    """A trace's full id from any unique prefix of it (as git takes commits)."""
    ref = prefix.strip().lower()
    if not ref or not all(c in "0123456789abcdef" for c in ref):
        raise InvalidInput(f"'{prefix}' is not a trace id - pass the hex id that 'cases traces' shows")
    rows = store.conn.execute(
        "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? ORDER BY trace_id LIMIT 6", (ref, ref + "g")
    ).fetchall()
    if len(rows) > 1:
        ids = ", ".join(r[0][:12] for r in rows[:5])
        raise AmbiguousId(f"trace id '{ref}' is ambiguous ({ids}, ...) - type more characters")
    if not rows:
        raise TraceNotFound(f"no trace matches '{ref}' in store '{store.path}' - see 'cases traces'")
    return str(rows[0][0])


def add_label(store: Store, trace_prefix: str, label: str, *, note: str | None = None) -> dict[str, Any]:
    """Label a trace's output good or bad; labelling it again replaces the label."""
    if label not in LABELS:
        raise InvalidInput(f"label {label!r} is not one of: {', '.join(LABELS)}")
    trace_id = resolve_trace_id(store, trace_prefix)
    row = store.conn.execute("SELECT output, status FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
    if row is None or row[0] is None:
        status = row[1] if row is not None else "unknown"
        raise NotFound(f"trace {trace_id} has no output to label (status {status}) - label a trace that returned")
    output = orjson.loads(row[0])
    record = {
        "subject": trace_id,
        "trace_id": trace_id,
        "output_hash": output_hash(output),
        "output": row[0],
        "label": label,
        "note": note,
        "labelled_at": utc_now(),
    }
    with store.transaction() as conn:
        conn.execute(
            f"INSERT OR REPLACE INTO labels ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            list(record.values()),
        )
    return {**record, "output": output}


def list_labels(store: Store) -> list[dict[str, Any]]:
    """Every label, oldest first, with the output decoded and the expected output of the trace's
    incident when it was annotated (a judge comparing against a reference needs it), else None."""
    rows = store.conn.execute(
        "SELECT labels.*, incidents.expected AS expected FROM labels "
        "LEFT JOIN incidents ON incidents.trace_id = labels.trace_id ORDER BY labels.labelled_at, labels.subject"
    )
    labels = []
    for row in rows:
        item = dict(row)
        item["output"] = orjson.loads(item["output"]) if item["output"] is not None else None
        item["expected"] = orjson.loads(item["expected"]) if item["expected"] is not None else None
        labels.append(item)
    return labels


# -- calibrations ---------------------------------------------------------------------------------


def record_calibration(store: Store, result: Mapping[str, Any]) -> None:
    """Store one calibration: `config_hash`, `grader` (the spec), `suite`, the metrics, the
    confusion matrix and the disagreements (the last three as JSON)."""
    row = {
        "config_hash": result["config_hash"],
        "grader": orjson.dumps(result["grader"], option=orjson.OPT_SORT_KEYS).decode(),
        "suite": result.get("suite"),
        "calibrated_at": result.get("calibrated_at") or utc_now(),
        "total": result["total"],
        "accuracy": result["accuracy"],
        "kappa": result["kappa"],
        "true_pass_rate": result["true_pass_rate"],
        "true_fail_rate": result["true_fail_rate"],
        "confusion": orjson.dumps(result["confusion"], option=orjson.OPT_SORT_KEYS).decode(),
        "disagreements": orjson.dumps(result["disagreements"]).decode(),
    }
    with store.transaction() as conn:
        conn.execute(
            f"INSERT INTO calibrations ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )


def latest_calibration(store: Store, config_hash: str) -> dict[str, Any] | None:
    """The newest calibration of a judge configuration, JSON columns decoded; None if it has none."""
    row = store.conn.execute(
        "SELECT * FROM calibrations WHERE config_hash = ? ORDER BY calibrated_at DESC, id DESC LIMIT 1",
        (config_hash,),
    ).fetchone()
    if row is None:
        return None
    item = dict(row)
    for column in ("grader", "confusion", "disagreements"):
        item[column] = orjson.loads(item[column])
    return item
