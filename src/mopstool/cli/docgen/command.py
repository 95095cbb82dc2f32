"""``mopstool docs generate``: write or check man pages and completions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mopstool.cli.docgen.files import generated_files, sync_files


docs_app = typer.Typer(help="Generate the man pages and shell completion scripts.", no_args_is_help=True)


@docs_app.command("generate")
def generate(
    check: Annotated[bool, typer.Option(
        "--check", help="Compare with the files on disk and write nothing; exit 3 listing stale files.")] = False,
    out: Annotated[Optional[Path], typer.Option(
        "--out", metavar="DIR",
        help="Write DIR/man/man1/*.1 and DIR/completions/ (default: the current directory).",
        show_default=False)] = None,
) -> None:
    """Write man/man1/*.1 and completions/ from the commands mopstool has now.

    Pages of commands that no longer exist are removed. With --check nothing is
    written: the command lists what is stale and exits 3, or exits 0 when every
    file is current.

    Examples:

    \b
    $ mopstool docs generate
    $ mopstool docs generate --check
    """
    from mopstool.cli.common import info
    from mopstool.cli.main import root_command
    from mopstool.errors import CheckFailed

    out_dir = out or Path(".")
    res = sync_files(out_dir, generated_files(root_command()), check=check)
    if check:
        if res.stale:
            for rel in res.written:
                info(f"stale: {rel}")
            for rel in res.removed:
                info(f"stale: {rel} (no such command any more)")
            raise CheckFailed(f"{len(res.stale)} generated files are stale; run 'mopstool docs generate'")
        info(f"{len(res.unchanged)} generated files are current")
        return
    for rel in res.written:
        info(f"wrote {out_dir / rel}")
    for rel in res.removed:
        info(f"removed {out_dir / rel}")
    info(f"{len(res.written)} written, {len(res.removed)} removed, {len(res.unchanged)} unchanged")
