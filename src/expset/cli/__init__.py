"""The command line: the command table, the Typer app, and the console and prompts it speaks through."""
