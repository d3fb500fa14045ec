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


@task
def capitalization() -> Task:
    """Eight words to capitalize; the answer must be the word itself, capital letter included."""
    return Task(
        dataset=[Sample(input=PROMPT.format(word=word), target=word.capitalize(), id=word) for word in WORDS],
        solver=generate(),
        scorer=match(location="exact", ignore_case=False),
    )
