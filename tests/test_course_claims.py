"""Statements about AWS that the course once got wrong (issue 14), kept from coming back.

Each test reads a notebook's source in authoring/notebooks/ and checks one corrected claim.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "authoring" / "notebooks"


def _source(prefix: str) -> str:
    return next(NOTEBOOKS.glob(f"{prefix}-*.py")).read_text()


def _paragraphs(source: str) -> list[str]:
    return re.split(r"\n\s*#?\s*\n", source)


def test_target_tracking_formula_is_called_the_labs_model_not_aws() -> None:
    """Item 9: AWS publishes no formula for target tracking; ⌈running × metric ÷ target⌉ is the lab's."""
    source = _source("06")
    assert "AWS publishes no formula" in source
    for paragraph in _paragraphs(source):
        if re.search(r"⌈\s*(running|\d+ ×)", paragraph):
            assert "lab" in paragraph, f"the formula appears without saying it is the lab's model:\n{paragraph}"


def test_security_groups_have_outbound_rules() -> None:
    """Item 10: security groups are not inbound-only; a new one allows all traffic out (notebook 07b since 07 was split)."""
    source = _source("07b")
    assert "**outbound** rules" in source
    assert "group.egress" in source
    assert not re.search(r"They list what may come \*\*in\*\*", source)


def test_confused_deputy_conditions_name_source_account_and_source_arn() -> None:
    """Item 10: aws:SourceAccount and aws:SourceArn, recommended for every task role, not only cross-account ones."""
    source = _source("07")
    assert '"aws:SourceAccount"' in source and '"aws:SourceArn"' in source
    assert "for roles you share across accounts" not in source


LONG_ON_PURPOSE = {
    ("09-capstone.py", "checklist"): "the capstone's evidence, one AWS answer per line of the notes: reading it is the lesson",
    ("09-capstone.py", "cost_estimator"): "widget wiring around aws_target's estimate; belongs in aws_target",
}
"""Functions a notebook keeps although they are long, and why."""


def test_no_notebook_pastes_a_long_helper() -> None:
    """Pedagogy: no function over ~10 lines defined in a learner's notebook; such code lives in ecslab."""
    too_long = []
    for path in sorted(NOTEBOOKS.glob("*.py")):
        for match in re.finditer(r"^def (\w+)\(.*?(?=^\S)", path.read_text(), flags=re.S | re.M):
            body = [line for line in match.group(0).splitlines() if line.strip()]
            if len(body) > 12 and (path.name, match.group(1)) not in LONG_ON_PURPOSE:
                too_long.append(f"{path.name}: {match.group(1)} is {len(body)} lines")
    assert not too_long, "move these into ecslab: " + "; ".join(too_long)
