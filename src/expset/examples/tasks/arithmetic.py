"""Arithmetic: add two whole numbers.

A small inspect-ai task bundled with expset's examples; it needs no network and no data files.
Run it with ``inspect eval arithmetic.py@arithmetic --model <model>``, and ``-T level=2`` for
two-digit numbers (in a plan: ``{name: arithmetic, task: …@arithmetic, args: {level: 2}}``).
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

PROMPT = "What is {a} + {b}? Answer with the number only."
SUMS = {
    1: ((3, 4), (7, 5), (9, 8), (6, 2), (8, 8), (5, 9), (2, 7), (4, 6)),
    2: ((34, 47), (72, 15), (98, 86), (61, 29), (83, 58), (56, 97), (27, 71), (45, 64)),
    3: ((348, 475), (721, 159), (986, 862), (613, 297), (835, 580), (564, 973), (279, 718), (452, 646)),
}
"""Eight sums per level: numbers of one, two or three digits."""


def templated(question: str, template: str | None) -> str:
    """``question`` in ``template`` at ``{input}``, as the fine-tune saw its inputs; as is without one."""
    return question if template is None else template.replace("{input}", question)


@task
def arithmetic(level: int = 1, prompt_template: str | None = None) -> Task:
    """Eight sums of two numbers with ``level`` digits each; the last number in the answer is scored.
    ``prompt_template`` puts each question in the text around it, at ``{input}`` (the plan's ``prompt.template``)."""
    if level not in SUMS:
        raise ValueError(f"level must be one of {sorted(SUMS)}, not {level!r}")
    samples = [
        Sample(input=templated(PROMPT.format(a=a, b=b), prompt_template), target=str(a + b), id=index)
        for index, (a, b) in enumerate(SUMS[level], start=1)
    ]
    return Task(dataset=samples, solver=generate(), scorer=match(numeric=True))
