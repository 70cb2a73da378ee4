"""People's labels on outputs and the judge calibrations made from them, in a PostgreSQL store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casebank.errors import InvalidInput, NotFound
from casebank.store._postgres._base import Connected, dumps, jsonb
from casebank.store._postgres._traces import TraceReads
from casebank.store._records import LABELS, output_hash, utc_now

__all__ = ["CALIBRATION_COLUMNS", "Labels"]

CALIBRATION_COLUMNS = (
    "id", "config_hash", "grader", "suite", "calibrated_at", "total", "accuracy", "kappa", "true_pass_rate",
    "true_fail_rate", "confusion", "disagreements",
)  # fmt: skip
_LABEL_COLUMNS = ("subject", "trace_id", "output_hash", "output", "label", "note", "labelled_at")


class Labels(TraceReads, Connected):
    def add_label(self, trace_prefix: str, label: str, *, note: str | None = None) -> dict[str, Any]:
        if label not in LABELS:
            raise InvalidInput(f"label {label!r} is not one of: {', '.join(LABELS)}")
        trace_id = self.resolve_trace_id(trace_prefix)
        # SQL NULL is "raised" or "no root yet"; the JSON null is an answer of None, which is labelled.
        row = self.row("SELECT output, output IS NULL AS missing, status FROM traces WHERE trace_id = %s", (trace_id,))
        if row is None or row["missing"]:
            status = row["status"] if row is not None else "unknown"
            raise NotFound(f"trace {trace_id} has no output to label (status {status}) - label a trace that returned")
        output = row["output"]
        record = {
            "subject": trace_id,
            "trace_id": trace_id,
            "output_hash": output_hash(output),
            "output": output,
            "label": label,
            "note": note,
            "labelled_at": utc_now(),
        }
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO labels (subject, trace_id, output_hash, output, label, note, labelled_at) "
                "VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s) ON CONFLICT (subject) DO UPDATE SET "
                "trace_id = excluded.trace_id, output_hash = excluded.output_hash, output = excluded.output, "
                "label = excluded.label, note = excluded.note, labelled_at = excluded.labelled_at",
                [*list(record.values())[:3], jsonb(dumps(output)), label, note, record["labelled_at"]],
            )
        return record

    def list_labels(self) -> list[dict[str, Any]]:
        columns = ", ".join(f"labels.{c}" for c in _LABEL_COLUMNS)
        return self.rows(
            f"SELECT {columns}, incidents.expected AS expected FROM labels "
            "LEFT JOIN incidents ON incidents.trace_id = labels.trace_id ORDER BY labels.labelled_at, labels.subject"
        )

    def record_calibration(self, result: Mapping[str, Any]) -> None:
        """Store one calibration: `config_hash`, `grader` (the spec), `suite`, the metrics, the
        confusion matrix and the disagreements."""
        row = {
            "config_hash": result["config_hash"],
            "grader": jsonb(dumps(result["grader"])),
            "suite": result.get("suite"),
            "calibrated_at": result.get("calibrated_at") or utc_now(),
            "total": result["total"],
            "accuracy": result["accuracy"],
            "kappa": result["kappa"],
            "true_pass_rate": result["true_pass_rate"],
            "true_fail_rate": result["true_fail_rate"],
            "confusion": jsonb(dumps(result["confusion"])),
            "disagreements": jsonb(dumps(result["disagreements"])),
        }
        json = {"grader", "confusion", "disagreements"}
        values = ", ".join("%s::jsonb" if c in json else "%s" for c in row)
        with self.transaction() as conn:
            conn.execute(f"INSERT INTO calibrations ({', '.join(row)}) VALUES ({values})".encode(), list(row.values()))

    def latest_calibration(self, config_hash: str) -> dict[str, Any] | None:
        return self.row(
            f"SELECT {', '.join(CALIBRATION_COLUMNS)} FROM calibrations WHERE config_hash = %s "
            "ORDER BY calibrated_at DESC, id DESC LIMIT 1",
            (config_hash,),
        )
