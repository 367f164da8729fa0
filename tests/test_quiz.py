"""Knowledge checks: feedback text and the widget."""

from __future__ import annotations

import pytest

from ecslab.quiz import Question, Quiz

QUESTION = Question("2 + 2?", ("3", "4"), 1, "Because arithmetic.")


def test_right_and_wrong_answers_get_explained() -> None:
    assert QUESTION.feedback(1) == "Right. Because arithmetic."
    assert QUESTION.feedback(0) == "Not quite: the answer is “4”. Because arithmetic."


def test_answer_index_must_be_an_option() -> None:
    with pytest.raises(ValueError, match="not an option index"):
        Question("?", ("a",), 3, "")


def test_widget_shows_feedback_when_an_option_is_picked() -> None:
    quiz = Quiz([QUESTION])
    box = quiz.widget()
    radio = box.children[2]
    feedback = box.children[3]
    assert feedback.value == ""
    radio.value = "3"
    assert "Not quite" in feedback.value
    assert quiz.answer(0, 1) == "Right. Because arithmetic."
    assert "Right." in feedback.value


def test_empty_quiz_is_refused() -> None:
    with pytest.raises(ValueError):
        Quiz([])
