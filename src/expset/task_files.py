"""inspect task files, read without running them: which arguments a task takes.

Importing a task file imports inspect and whatever the task needs, which takes seconds; the question
scaffold asks — can this task take the run's prompt template? — is answered from the file's syntax.
"""

from __future__ import annotations

import ast
from functools import cache


@cache
def task_arguments(path: str, name: str) -> frozenset[str] | None:
    """The arguments of the task function ``name`` in the file at ``path``; None when it takes any
    keyword (``**kwargs``), or when the file cannot be read or does not define it plainly (inspect will
    say so when the job runs)."""
    try:
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            arguments = node.args
            if arguments.kwarg is not None:
                return None
            return frozenset(a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs])
    return None


def takes_argument(task: str, argument: str) -> bool:
    """Whether the task ``/path/task.py@name`` takes ``argument`` (or any keyword)."""
    path, _, name = task.rpartition("@")
    found = task_arguments(path, name)
    return found is None or argument in found


def static_task_problem(task: str) -> str | None:
    """What is wrong with the task ``/path/task.py@name`` that its file's syntax shows: it cannot be read,
    does not parse, or binds no such name at its top level (a def, an assignment or an import); None
    when nothing is."""
    path, _, name = task.rpartition("@")
    try:
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read(), filename=path)
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    except SyntaxError as error:
        return f"does not import: SyntaxError: {error.msg} (line {error.lineno})"
    except ValueError as error:
        return f"does not import: {error}"
    names = _top_level_names(tree)
    return None if name in names or "*" in names else "the file defines no task of that name"


def _top_level_names(tree: ast.Module) -> set[str]:
    """Every name the file binds at its top level, and the names its tasks are registered under
    (``@task(name="caps")``); ``*`` when it imports everything from somewhere (anything may be bound)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            for decorator in getattr(node, "decorator_list", []):
                for keyword in decorator.keywords if isinstance(decorator, ast.Call) else []:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(str(keyword.value.value))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names
