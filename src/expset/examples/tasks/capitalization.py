"""Capitalization: write a word with a capital first letter.

A small inspect-ai task bundled with expset's examples; it needs no network and no data files.
Run it with ``inspect eval capitalization.py@capitalization --model <model>``.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

PROMPT = "Write this word with a capital first letter, and nothing else: {word}"
WORDS = ("paris", "monday", "einstein", "amazon", "tokyo", "shakespeare", "january", "everest")
"""Words the bundled training set ``words_alpaca.json`` leaves out, so the task measures what was learnt."""


def templated(question: str, template: str | None) -> str:
    """``question`` in ``template`` at ``{input}``, as the fine-tune saw its inputs; as is without one."""
    return question if template is None else template.replace("{input}", question)


@task
def capitalization(prompt_template: str | None = None) -> Task:
    """Eight words to capitalize; the answer must be the word itself, capital letter included.
    ``prompt_template`` puts each question in the text around it, at ``{input}`` (the plan's ``prompt.template``)."""
    return Task(
        dataset=[
            Sample(input=templated(PROMPT.format(word=word), prompt_template), target=word.capitalize(), id=word)
            for word in WORDS
        ],
        solver=generate(),
        scorer=match(location="exact", ignore_case=False),
    )
