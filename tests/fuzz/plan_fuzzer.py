"""Hostile plan files: generated from plan-shaped fragments, then mutated, from one seed.

``plan_text(random.Random(seed))`` always gives the same text for the same seed, so a failing case is
reproduced by its seed alone. The fragments are what fuzzing expset's plan reader turned up: impossible
dates, tags on the wrong text, numbers too large, deep nesting, aliases, many combinations, names that
point outside the root, control characters.
"""

from __future__ import annotations

import random
import re

VALID_PLANS = [
    """\
name: llama lora comparison
purpose: Compare model size and LoRA rank.
date: 2025-10-18
author: Ada
vary:
  model: [Llama-3.2-1B-Instruct, Llama-3.2-3B-Instruct]
  lora_rank: [8, 16]
fixed:
  lr: 1e-4
  epochs: 2
evaluations: [capitalization, arithmetic]
""",
    """\
purpose: >-
  Which data teaches the task best?
vary:
  dataset:
    - ./data/census/acs income v1.json
    - ./data/census/acs income v2.json
fixed: {model: Llama-3.2-1B-Instruct, lora_rank: 16, lr: 2e-5}
evaluations:
  - {name: acs_income, task: tasks/acs_income.py@acs_income, args: {level: 2}, epochs: all}
naming:
  template: "{dataset}"
  aliases:
    dataset: {./data/census/acs income v1.json: acs1, ./data/census/acs income v2.json: acs2}
""",
    """\
purpose: A learning rate by rank grid.
vary:
  lr: [1e-4, 3e-4, "1e-3"]
  lora_rank: [8, 16]
fixed:
  seed: 42
  lora_dropout: 0.05
single_run_reason: none
notes: Same data in every run.
data: {format: instruct, fields: {input: question, output: answer}}
site: {partition: gpu, environment: [module load cuda]}
""",
]

FIELDS = [
    "name", "purpose", "author", "date", "root", "vary", "fixed", "single_run_reason", "evaluations", "notes",
    "naming", "models", "data", "site", "evaluation", "<<",
]  # fmt: skip
PARAMETERS = [
    "model", "lora_rank", "lr", "learning_rate", "epochs", "seed", "dataset", "lora_dropout", "batch_size", "gpus",
    "x", "save_adapter_weights_only", "1bad", "a-b", "''", "ü", '"a\\nb"', '"x\\u2028"', "~", "1",
]  # fmt: skip

VALUES = [
    "8", "16", "-1", "0", "1e-4", "0.05", "1e999", "-1e999", ".inf", "-.inf", ".nan", "1" + "0" * 400,
    "1" + "0" * 5000, "0x" + "f" * 1200, "0o777", "0b101", "1_000", "!!int abc", "!!int ''", "!!float abc",
    "!!float ''", "!!bool maybe", "!!int 1e5", "!!float 8", "!!str 8", "!!binary aGk=", "!!binary '!!!'",
    "!!timestamp nope", "!!set {a, b}", "!!omap [a: 1]", "!!python/object:os.system x", "!custom x",
    "2025-10-18", "2025-02-30", "2025-13-01", "2025-13-01 25:61:00", "2025-10-18T10:00:00Z", "0000-01-01",
    "9999-12-31 23:59:60", "2025-1-5", "true", "false", "yes", "no", "~", "null", "''", '""', "'..'",
    "../../etc", "/abs/path", "-leading", ".hidden", '"a\\u0000b"', '"a\\nb"', '"\\u2028"', '"\\x85"',
    "Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct", "Qwen2.5-7B", "tasks/t.py@t", "t.py", "'{x}'",
    '"' + "long" * 60 + '"', "*a", "*undefined", "&b 8", "&c [1, 2]", "[1, 2, 3]", "[]", "{}",
    "[[1], [2]]", "{a: 1}", "[8, 8]", "[1, 1.0]", "[true, 1]", "[a, A]", "[a b, a-b]", "[x, x.]", "all", "last",
    '["a\\nb", a b]',
]  # fmt: skip
"""Well-formed values, each a hostile or borderline case for one field or another."""
FRAGMENTS = ["?", ":", "- a", "{a}", "|\n  text", ">-\n  folded", "'unterminated", '"unterminated', "[unclosed",
             "{unclosed", "\t8"]  # fmt: skip
SCALARS = VALUES * 4 + FRAGMENTS

SNIPPETS = [
    *SCALARS, ": ", "- ", "? ", "---\n", "...\n", "%YAML 1.1\n---\n", "%YAML 1.3\n", "%TAG ! tag:x,2000:\n", "#",
    "&a ", "*a", "<<: *a\n", "\n", "\n  ", "  ", "\t", "\x00", "\x85", "\u2028", "\ufeff", "\x1b[31m", "'", '"',
    "[", "]", "{", "}", ",", "@", "`", "|", ">", "!", "%", "\\", "\r\n", "\r",
]  # fmt: skip


def plan_text(rng: random.Random) -> str:
    """One plan file's text: a valid plan, a generated one, or either mutated; sometimes a huge case."""
    roll = rng.random()
    if roll < 0.06:
        return huge_case(rng)
    text = rng.choice(VALID_PLANS) if roll < 0.5 else generated_plan(rng)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        text = substitute(text, rng)
    for _ in range(rng.choice([0, 0, 0, 1, 3])):
        text = mutate(text, rng)
    return text


def generated_plan(rng: random.Random) -> str:
    """A plan-shaped mapping whose fields and values are drawn from the fragments above."""
    lines = []
    if rng.random() < 0.9:
        lines.append(f"purpose: {rng.choice(['Why.', 'p', *SCALARS]) if rng.random() < 0.3 else 'Why.'}")
    if rng.random() < 0.8:
        lines.append("vary: {lora_rank: [8, 16], seed: [1, 2, 3]}")
    for field in rng.sample(FIELDS, rng.randint(0, 6)):
        if field in ("vary", "fixed"):
            lines.append(f"{field}:")
            if field == "fixed" and rng.random() < 0.5:
                lines.append(f"  shared: &a {rng.choice(['[1, 2]', '{x: 1}', 'text', '&b [*b]', '[*a]'])}")
            for key in rng.sample(PARAMETERS, rng.randint(0, 4)):
                count = rng.choice([1, 2, 3, 5, 10, 40])
                values = ", ".join(rng.choice(SCALARS[:40]) if rng.random() < 0.3 else str(i) for i in range(count))
                value = f"[{values}]" if field == "vary" else rng.choice(SCALARS)
                lines.append(f"  {key}: {value}")
        elif field == "naming":
            lines.append(
                f"naming: {{template: {rng.choice(SCALARS)}, aliases: {{lora_rank: {{8: {rng.choice(SCALARS)}}}}}}}"
            )
        elif field == "evaluations":
            lines.append(
                f"evaluations: [{rng.choice(SCALARS)}, {{name: {rng.choice(SCALARS)}, epochs: {rng.choice(SCALARS)}}}]"
            )
        else:
            lines.append(f"{field}: {rng.choice(SCALARS)}")
    return "\n".join(lines) + "\n"


VALUE = re.compile(r"(?<=[:\[,{] )[^,\[\]{}\n:]+(?=[,\]}\n])")


def substitute(text: str, rng: random.Random) -> str:
    """``text`` with one value (after ``: ``, ``[`` or ``, ``) replaced by a fragment: the structure stays."""
    values = list(VALUE.finditer(text))
    if not values:
        return text
    match = rng.choice(values)
    return text[: match.start()] + rng.choice(VALUES) + text[match.end() :]


def mutate(text: str, rng: random.Random) -> str:
    """``text`` with one edit: a fragment inserted, a span deleted or repeated, a line moved or re-indented."""
    position = rng.randint(0, len(text))
    operation = rng.randrange(6)
    if operation <= 1:
        return text[:position] + rng.choice(SNIPPETS) + text[position:]
    if operation == 2:
        return text[:position] + text[position + rng.randint(1, 20) :]
    if operation == 3:
        span = text[position : position + rng.randint(1, 40)]
        return text[:position] + span * rng.randint(2, 5) + text[position:]
    lines = text.splitlines(keepends=True) or [""]
    index = rng.randrange(len(lines))
    if operation == 4:
        line = lines.pop(index)
        lines.insert(rng.randrange(len(lines) + 1), line)
    else:
        lines[index] = " " * rng.choice([1, 2, 3, 4, 8]) + lines[index]
    return "".join(lines)


def huge_case(rng: random.Random) -> str:
    """One of the cases that once hung, crashed or exhausted memory, at a size that takes milliseconds now."""
    kind = rng.randrange(5)
    if kind == 0:  # nested far too deep, in flow or block style
        depth = rng.choice([60, 1_000, 100_000])
        inner = "[" * depth + "]" * depth if rng.random() < 0.5 else "".join("- " for _ in range(depth)) + "x"
        return f"purpose: p\nvary:\n  x: {inner}\n"
    if kind == 1:  # combinations that multiply to a million runs and more
        vary = "".join(f"  p{i}: [{', '.join(map(str, range(10)))}]\n" for i in range(rng.choice([6, 8, 20])))
        return f"purpose: p\nvary:\n{vary}"
    if kind == 2:  # aliases that multiply a value (billion laughs)
        lines = ["purpose: p", "fixed:", f"  a0: &a0 [{', '.join(['xxxxxxxx'] * 10)}]"]
        lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        return "\n".join(lines) + "\nvary: {x: [1, 2]}\n"
    if kind == 3:  # one large value repeated into every run
        seeds = ", ".join(map(str, range(2_000)))
        return f"purpose: p\nfixed: {{note: &n {'x' * 60_000}, again: *n}}\nvary: {{seed: [{seeds}]}}\n"
    return f"purpose: p\nvary:\n  x: [{', '.join(map(str, range(rng.choice([10_001, 50_000]))))}]\n"
