"""Knowledge checks: feedback text and the widget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecslab.quiz import Question, Quiz

QUESTION = Question("2 + 2?", ("3", "4"), 1, "Because arithmetic.")


def test_right_and_wrong_answers_get_explained() -> None:
    assert QUESTION.feedback(1) == "Right. Because arithmetic."
    assert QUESTION.feedback(0) == "Not quite: “3”: That is not it. The answer is “4”. Because arithmetic."


def test_each_wrong_option_gets_its_own_reason() -> None:
    question = Question(
        "Capital of France?",
        ("Lyon", "Paris", "Nice"),
        1,
        "Paris is.",
        why_not=("Lyon is the third city.", "", "Nice is on the coast."),
    )
    assert "“Lyon”: Lyon is the third city." in question.feedback(0)
    assert "“Nice”: Nice is on the coast." in question.feedback(2)
    assert question.feedback(0) != question.feedback(2)
    with pytest.raises(ValueError, match="why_not has 1 entries"):
        Question("?", ("a", "b"), 0, "", why_not=("x",))


def test_options_are_shuffled_stably_per_question() -> None:
    options = tuple("abcdef")
    first = Question("Which letter?", options, 0, "").display_order()
    assert first == Question("Which letter?", options, 0, "").display_order()  # the same every run
    assert sorted(first) == list(range(6))
    orders = {tuple(Question(f"Question {n}?", options, 0, "").display_order()) for n in range(20)}
    assert len(orders) > 5  # different questions, different orders


def test_the_right_answer_is_not_always_shown_in_the_same_place() -> None:
    # every quiz of the course: where would its right answer be shown?
    positions = []
    for source in sorted(Path(__file__).resolve().parent.parent.glob("authoring/notebooks/*.py")):
        namespace: dict[str, object] = {}
        for block in re.findall(r"^Quiz\(\[\n.*?^\]\)", source.read_text(), flags=re.S | re.M):
            exec("from ecslab.quiz import Question, Quiz\nquestions = " + block[len("Quiz(") : -1], namespace)
            for question in namespace["questions"]:  # type: ignore[attr-defined]
                positions.append(question.display_order().index(question.answer))
    assert len(positions) >= 30
    most_common = max(positions.count(position) for position in set(positions))
    assert most_common <= len(positions) * 0.5, (
        f"the right answer is shown at one place in {most_common} of {len(positions)} questions"
    )


def test_answer_index_must_be_an_option() -> None:
    with pytest.raises(ValueError, match="not an option index"):
        Question("?", ("a",), 3, "")


def test_widget_shows_feedback_when_an_option_is_picked() -> None:
    quiz = Quiz([QUESTION])
    box = quiz.widget()
    radio = box.children[2]
    feedback = box.children[3]
    assert feedback.value == ""
    assert sorted(radio.options) == [("3", 0), ("4", 1)]
    radio.value = 0
    assert "Not quite" in feedback.value and "“3”" in feedback.value
    assert quiz.answer(0, 1) == "Right. Because arithmetic."
    assert "Right." in feedback.value


def test_empty_quiz_is_refused() -> None:
    with pytest.raises(ValueError):
        Quiz([])


def _course_questions() -> list[tuple[str, Question]]:
    found = []
    for source in sorted(Path(__file__).resolve().parent.parent.glob("authoring/notebooks/*.py")):
        namespace: dict[str, object] = {}
        for block in re.findall(r"^Quiz\(\[\n.*?^\]\)", source.read_text(), flags=re.S | re.M):
            exec("from ecslab.quiz import Question, Quiz\nquestions = " + block[len("Quiz(") : -1], namespace)
            found += [(source.stem, question) for question in namespace["questions"]]  # type: ignore[attr-defined]
    return found


def test_every_wrong_option_of_every_quiz_says_why_it_is_wrong() -> None:
    questions = _course_questions()
    assert {stem[:2] for stem, _ in questions} == {f"{n:02d}" for n in range(10)}  # every notebook has a quiz
    for stem, question in questions:
        assert len(question.why_not) == len(question.options), f"{stem}: no reason per option for {question.prompt!r}"
        for index, reason in enumerate(question.why_not):
            if index == question.answer:
                assert reason == "", f"{stem}: the right option has a 'why not' in {question.prompt!r}"
            else:
                assert len(reason) > 20, f"{stem}: option {question.options[index]!r} has no reason in {question.prompt!r}"
