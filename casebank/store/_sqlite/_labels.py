"""People's labels on outputs and the judge calibrations made from them, in a SQLite store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from casebank.errors import InvalidInput, NotFound
from casebank.store._records import LABELS, output_hash, utc_now
from casebank.store._sqlite._base import Connected, dumps, loads
from casebank.store._sqlite._traces import TraceReads

__all__ = ["Labels"]


def _sorted_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class Labels(TraceReads, Connected):
    def add_label(self, trace_prefix: str, label: str, *, note: str | None = None) -> dict[str, Any]:
        if label not in LABELS:
            raise InvalidInput(f"label {label!r} is not one of: {', '.join(LABELS)}")
        trace_id = self.resolve_trace_id(trace_prefix)
        row = self.conn.execute("SELECT output, status FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
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
        with self.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO labels ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
                list(record.values()),
            )
        return {**record, "output": output}

    def list_labels(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT labels.*, incidents.expected AS expected FROM labels "
            "LEFT JOIN incidents ON incidents.trace_id = labels.trace_id ORDER BY labels.labelled_at, labels.subject"
        )
        labels = []
        for row in rows:
            item = dict(row)
            item["output"] = loads(item["output"])
            item["expected"] = loads(item["expected"])
            labels.append(item)
        return labels

    def record_calibration(self, result: Mapping[str, Any]) -> None:
        """Store one calibration: `config_hash`, `grader` (the spec), `suite`, the metrics, the
        confusion matrix and the disagreements."""
        row = {
            "config_hash": result["config_hash"],
            "grader": _sorted_json(result["grader"]),
            "suite": result.get("suite"),
            "calibrated_at": result.get("calibrated_at") or utc_now(),
            "total": result["total"],
            "accuracy": result["accuracy"],
            "kappa": result["kappa"],
            "true_pass_rate": result["true_pass_rate"],
            "true_fail_rate": result["true_fail_rate"],
            "confusion": _sorted_json(result["confusion"]),
            "disagreements": dumps(result["disagreements"]),
        }
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO calibrations ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )

    def latest_calibration(self, config_hash: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM calibrations WHERE config_hash = ? ORDER BY calibrated_at DESC, id DESC LIMIT 1",
            (config_hash,),
        ).fetchone()
        if row is None:
            return None
        item = dict(row)
        for column in ("grader", "confusion", "disagreements"):
            item[column] = orjson.loads(item[column])
        return item
