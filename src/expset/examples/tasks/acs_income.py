"""ACS income: does a person described by census answers earn more than $50,000 a year?

A small inspect-ai task bundled with expset's examples, in the spirit of the ACS income prediction
benchmark; the people are made up. It needs no network and no data files. Run it with
``inspect eval acs_income.py@acs_income --model <model>``.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

PROMPT = (
    "A person is {age} years old, works {hours} hours a week as {occupation}, and has {education}. "
    "Is their yearly income above $50,000? Answer yes or no."
)
PEOPLE = (
    (52, 50, "a surgeon", "a doctoral degree", "yes"),
    (19, 20, "a cashier", "a high school diploma", "no"),
    (44, 45, "a software engineer", "a bachelor's degree", "yes"),
    (67, 10, "a crossing guard", "a high school diploma", "no"),
    (38, 40, "a lawyer", "a professional degree", "yes"),
    (24, 30, "a waiter", "some college", "no"),
    (49, 55, "a sales manager", "a master's degree", "yes"),
    (31, 25, "a childcare worker", "an associate degree", "no"),
)


def templated(question: str, template: str | None) -> str:
    """``question`` in ``template`` at ``{input}``, as the fine-tune saw its inputs; as is without one."""
    return question if template is None else template.replace("{input}", question)


@task
def acs_income(prompt_template: str | None = None) -> Task:
    """Eight people; the answer must begin with yes or no. ``prompt_template`` puts each question in
    the text around it, at ``{input}`` (the plan's ``prompt.template``)."""
    return Task(
        dataset=[
            Sample(
                input=templated(
                    PROMPT.format(age=age, hours=hours, occupation=job, education=education), prompt_template
                ),
                target=answer,
                id=i,
            )
            for i, (age, hours, job, education, answer) in enumerate(PEOPLE, start=1)
        ],
        solver=generate(),
        scorer=match(location="begin"),
    )
