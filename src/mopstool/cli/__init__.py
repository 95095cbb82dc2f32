"""The typer command line: option parsing, rendering and prompts only."""
