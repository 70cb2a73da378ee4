"""The labelled corpus through real capture: every secret and PII value gone, every near miss kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.redaction_corpus import KEYED, PII, SECRETS, run_capture, score


def test_every_labelled_value_is_gone_and_every_near_miss_kept(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captured = run_capture(db_path, redact=["pii"])
    result = score(captured)

    with capsys.disabled():  # the figures show without -s too
        print(
            f"\nredaction corpus: {len(SECRETS) + len(KEYED)} secrets and {len(PII)} PII values "
            f"in {len(captured.places)} places - secret recall {result.secret_recall:.1%} "
            f"({result.secrets_caught}/{result.secrets_total}), PII recall {result.pii_recall:.1%} "
            f"({result.pii_caught}/{result.pii_total}), false positives {result.false_positives}"
        )
    assert result.missed == []
    assert result.wrong == []
    assert (result.secret_recall, result.pii_recall, result.false_positives) == (1.0, 1.0, 0)


def test_without_pii_redactors_secrets_still_go_and_pii_stays(db_path: Path) -> None:
    # PII redaction is opt-in: with none configured, every PII value is kept as written.
    captured = run_capture(db_path, redact=[])
    result = score(captured)

    assert result.secret_recall == 1.0
    assert result.pii_caught == 0
    assert all(label.value.encode() in captured.raw for label in PII)
