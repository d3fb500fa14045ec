"""expset's own styling is Rich markup written by expset; every value placed in it is printed as it is."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import expset
from expset.cli import console

SOURCE = Path(expset.__file__).parent
HELPERS = ("status", "markup")  # the two functions that take a template; inside them it is a parameter
# Brackets, slashes, backslashes and colons (Rich's markup, escapes and emoji codes), and any other printable
# text, private-use characters included.
VALUES = st.text(
    st.sampled_from("[]/\\:@#=bold red smile") | st.characters(categories=["L", "N", "P", "S", "Zs", "Co"])
)


@given(VALUES, VALUES)
def test_values_are_inserted_as_they_are_whatever_they_contain(first, second):
    message = console.markup("[bold]set {}[/] and [cyan]{}[/]: [dim]done[/]", first, second)
    assert message.plain == f"set {first} and {second}: done"


def test_a_value_takes_the_style_in_effect_where_it_stands():
    message = console.markup("[green]created[/] [bold]{}[/] ok", "[/]x[red]")
    assert message.plain == "created [/]x[red] ok"
    assert {(span.start, span.end, span.style) for span in message.spans} >= {(0, 7, "green"), (8, 17, "bold")}
    assert message.get_style_at_offset(console.stderr(), 12).bold
    assert not message.get_style_at_offset(console.stderr(), 18).bold


def test_plain_text_printed_on_the_consoles_is_shown_as_written(capsys):
    console.stdout().print("[bold]x[/] :smile: [/]")
    console.stderr().print("[red]y[/red]")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("[bold]x[/] :smile: [/]\n", "[red]y[/red]\n")


def template_calls() -> list[tuple[Path, ast.Call]]:
    """Every call of ``status`` or ``markup`` in expset's sources, outside the bodies of those two."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {
            id(node)
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.name in HELPERS
            for node in ast.walk(function)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and id(node) not in inside:
                callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if callee in HELPERS:
                    found.append((path, node))
    return found


def test_every_message_template_is_written_in_the_source_so_no_value_can_become_markup():
    calls = template_calls()
    assert len(calls) > 20
    for path, call in calls:
        template = call.args[0] if call.args else None
        where = f"{path.relative_to(SOURCE)} line {call.lineno}"
        assert isinstance(template, ast.Constant) and isinstance(template.value, str), (
            f"{where}: the template must be a string literal; pass values as arguments for its {{}}"
        )


def test_markup_is_parsed_in_one_place_only():
    readers = [
        path.relative_to(SOURCE).as_posix()
        for path in sorted(SOURCE.rglob("*.py"))
        if any(word in path.read_text(encoding="utf-8") for word in ("from_markup", "rich.markup", "render_markup"))
    ]
    assert readers == ["cli/console.py"]


def test_control_characters_in_an_error_cannot_steer_the_terminal(capsys):
    from expset.cli.console import report_error
    from expset.errors import UsageError

    report_error(UsageError("key \x1b[31mRED\x07 is unknown", hint="remove \x1b]0;title\x07"))
    written = capsys.readouterr().err
    assert "\x1b[31m" not in written and "\x07" not in written
    assert "key \\x1b[31mRED\\x07 is unknown" in written
