"""The scriptable mopstool library: plain arguments in, result objects out.

Nothing here imports typer, rich or click; the CLI in mopstool.cli is a thin
layer over these functions.
"""
