"""What the grader writes: ``gradebook.csv``, ``gradebook.html`` and one feedback file per learner."""

from __future__ import annotations

import csv
import html
import re
from collections import Counter
from pathlib import Path

from ecslab.grade.runner import SubmissionResult

__all__ = ["COLUMNS", "summary", "write_reports"]

COLUMNS = ["learner", "exercise", "check", "points", "max_points", "passed", "status", "message", "seconds", "problems"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "learner"


def rows(results: list[SubmissionResult]) -> list[dict[str, str]]:
    table = []
    for result in results:
        problems = "; ".join(result.problems)
        for check in result.checks:
            table.append(
                {
                    "learner": result.learner,
                    "exercise": result.exercise,
                    "check": check.check,
                    "points": str(check.points),
                    "max_points": str(check.max_points),
                    "passed": "yes" if check.passed else "no",
                    "status": check.status,
                    "message": check.message,
                    "seconds": f"{check.seconds:.1f}",
                    "problems": problems,
                }
            )
    return table


def _common(message: str) -> str:
    """A failure message with its run-specific names and numbers blanked, so that like messages count together."""
    message = re.sub(r"arn:aws:[^\s'\"]+", "ARN", message)
    return re.sub(r"\b[0-9a-f]{8,}\b|\b\d{2,}\b", "…", message)


def per_check(results: list[SubmissionResult]) -> dict[tuple[str, str], tuple[int, int, list[tuple[str, int]]]]:
    """(exercise, check) -> (passed, graded, the three most common failure messages with their counts)."""
    counts: dict[tuple[str, str], list[int]] = {}
    failures: dict[tuple[str, str], Counter[str]] = {}
    for result in results:
        for check in result.checks:
            key = (result.exercise, check.check)
            seen = counts.setdefault(key, [0, 0])
            seen[1] += 1
            if check.passed:
                seen[0] += 1
            else:
                failures.setdefault(key, Counter())[_common(check.message)] += 1
    return {key: (p, n, failures.get(key, Counter()).most_common(3)) for key, (p, n) in sorted(counts.items())}


def summary(results: list[SubmissionResult]) -> str:
    lines = [f"{len(results)} submission(s) graded."]
    for (exercise, check), (passed, graded, _common_failures) in per_check(results).items():
        lines.append(f"  {exercise} check {check}: {passed}/{graded} passed")
    troubled = [r for r in results if any(not p.startswith("note:") for p in r.problems)]
    if troubled:
        lines.append(f"  {len(troubled)} submission(s) with problems (see the 'problems' column).")
    return "\n".join(lines)


def _feedback(result: SubmissionResult) -> str:
    lines = [
        f"# Feedback: {result.learner}, exercise {result.exercise}",
        "",
        f"Points: {result.points} of {result.max_points}.",
        "",
    ]
    for check in result.checks:
        mark = "passed" if check.passed else ("not run" if check.status == "not run" else "not passed yet")
        lines.append(f"- **Check {check.check}** ({check.points}/{check.max_points}), {mark}: {check.message}")
    notes = [p for p in result.problems if not p.startswith("note:")]
    if notes:
        lines += ["", "What went wrong while your notebook ran:", ""] + [f"- {problem}" for problem in notes]
    return "\n".join(lines) + "\n"


def write_reports(results: list[SubmissionResult], out: Path) -> dict[str, Path]:
    """Write gradebook.csv, gradebook.html and feedback/<learner>-<exercise>.md into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "gradebook.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows(results))
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for result in results:
        (feedback / f"{_safe(result.learner)}-{_safe(result.exercise)}.md").write_text(_feedback(result))
    escape = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Gradebook</title>",
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "table{border-collapse:collapse}.no{color:#a00}.yes{color:#1b7f3b}</style>",
        f"<h1>Gradebook</h1><p>{len(results)} submission(s).</p><h2>Per check</h2>",
        "<table><tr><th>Exercise</th><th>Check</th><th>Passed</th><th>Most common failures (what to re-teach)</th></tr>",
    ]
    for (exercise, check), (passed, graded, common) in per_check(results).items():
        listed = "".join(f"<li>{count} &times; {escape(message)}</li>" for message, count in common)
        parts.append(
            f"<tr><td>{escape(exercise)}</td><td>{escape(check)}</td><td>{passed}/{graded}</td><td><ul>{listed}</ul></td></tr>"
        )
    parts.append("</table><h2>Per learner</h2><table><tr><th>Learner</th><th>Exercise</th><th>Points</th>")
    parts.append("<th>Checks</th><th>Problems</th><th>Seconds</th></tr>")
    for result in results:
        marks = " ".join(
            f"<span class='{'yes' if c.passed else 'no'}' title='{escape(c.message)}'>{escape(c.check)}</span>"
            for c in result.checks
        )
        problems = "<br>".join(escape(p) for p in result.problems)
        parts.append(
            f"<tr><td>{escape(result.learner)}</td><td>{escape(result.exercise)}</td><td>{result.points}/{result.max_points}</td>"
            f"<td>{marks}</td><td>{problems}</td><td>{result.seconds:.0f}</td></tr>"
        )
    parts.append("</table>")
    html_path = out / "gradebook.html"
    html_path.write_text("\n".join(parts) + "\n")
    return {"csv": csv_path, "html": html_path, "feedback": feedback}
