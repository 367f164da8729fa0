"""Knowledge checks: a few multiple-choice questions at the end of each notebook.

Each question shows its options in an order shuffled once per question (seeded by the
question's text, so every run and every learner sees the same order, and the right answer
is not always in the same place). After the learner answers, it says whether the chosen
option was right and why; for a wrong option it says why *that* option is wrong (from
``why_not`` when the author wrote it) before the explanation. Nothing is graded or stored:
exercises are what instructors grade.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Question:
    prompt: str
    options: tuple[str, ...]
    answer: int
    """Index of the right option (in ``options`` as written, not as shown)."""
    explanation: str
    why_not: tuple[str, ...] = ()
    """Optional, one entry per option: why that option is wrong ("" for the right one)."""

    def __post_init__(self) -> None:
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer {self.answer} is not an option index (0-{len(self.options) - 1}) for {self.prompt!r}")
        if self.why_not and len(self.why_not) != len(self.options):
            raise ValueError(f"why_not has {len(self.why_not)} entries for {len(self.options)} options in {self.prompt!r}")

    def display_order(self) -> list[int]:
        """The option indexes in the order shown: a shuffle seeded by the question's text (stable across runs)."""
        order = list(range(len(self.options)))
        random.Random(hashlib.sha256(self.prompt.encode()).digest()).shuffle(order)
        return order

    def feedback(self, chosen: int) -> str:
        """What the learner reads after choosing option ``chosen`` (an index into ``options``)."""
        if chosen == self.answer:
            return f"Right. {self.explanation}"
        reason = self.why_not[chosen] if self.why_not and self.why_not[chosen] else "That is not it."
        return f"Not quite: “{self.options[chosen]}”: {reason} The answer is “{self.options[self.answer]}”. {self.explanation}"


class Quiz:
    """A list of questions shown as ipywidgets; ``answer(i, option)`` works without a browser."""

    def __init__(self, questions: list[Question], title: str = "Knowledge check") -> None:
        if not questions:
            raise ValueError("A quiz needs at least one question.")
        self.questions = questions
        self.title = title
        self._widget: Any = None
        self._feedback: list[Any] = []
        self._choices: list[Any] = []

    def answer(self, index: int, option: int) -> str:
        """Answer question ``index`` with ``option`` (both from 0); returns and shows the feedback."""
        text = self.questions[index].feedback(option)
        if self._feedback:
            self._choices[index].value = option
            self._feedback[index].value = self._feedback_html(index, option)
        return text

    def _feedback_html(self, index: int, option: int) -> str:
        question = self.questions[index]
        colour = "#1b7f3b" if option == question.answer else "#b3261e"
        import html

        return f"<div style='color:{colour};margin:4px 0 12px 0'>{html.escape(question.feedback(option))}</div>"

    def widget(self) -> Any:
        import ipywidgets as widgets

        if self._widget is not None:
            return self._widget
        rows: list[Any] = [widgets.HTML(f"<h4>{self.title}</h4>")]
        for index, question in enumerate(self.questions):
            shown = [(question.options[i], i) for i in question.display_order()]
            choice = widgets.RadioButtons(options=shown, value=None, layout=widgets.Layout(width="auto"))
            feedback = widgets.HTML("")
            choice.observe(lambda change, i=index: self._on_choice(i, change), names="value")
            self._choices.append(choice)
            self._feedback.append(feedback)
            rows += [widgets.HTML(f"<b>{index + 1}. {question.prompt}</b>"), choice, feedback]
        self._widget = widgets.VBox(rows)
        return self._widget

    def _on_choice(self, index: int, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        self._feedback[index].value = self._feedback_html(index, int(change["new"]))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        return f"Quiz({self.title!r}, {len(self.questions)} questions)"
