"""Man pages and shell completion scripts generated from the command tree.

Split by job: :mod:`.tree` reads the command tree (as ``--help`` shows it),
:mod:`.man` writes roff pages, :mod:`.completion` writes bash/zsh/fish scripts,
:mod:`.files` compares or writes them on disk, :mod:`.command` is
``mopstool docs generate``. Each writer takes the tree as its argument
(``mopstool.cli.main.root_command()`` for mopstool itself), so any click or
typer command tree can be documented.

The output is stable: no dates, no version numbers, and paths of the current
user's home and XDG directories are written as ``~`` / ``$XDG_...``.
"""

from mopstool.cli.docgen.completion import COMPLETION_FILES, completion_scripts
from mopstool.cli.docgen.files import MAN_DIR, SyncResult, generated_files, sync_files
from mopstool.cli.docgen.man import esc, man_pages
from mopstool.cli.docgen.tree import CommandDoc, ParamDoc, as_tree, command_tree, split_examples


def __getattr__(name: str):
    if name == "docs_app":  # the command is loaded only when it runs
        from mopstool.cli.docgen.command import docs_app

        return docs_app
    raise AttributeError(name)


__all__ = ["COMPLETION_FILES", "CommandDoc", "MAN_DIR", "ParamDoc", "SyncResult", "as_tree", "command_tree",
           "completion_scripts", "esc", "generated_files", "man_pages", "split_examples", "sync_files"]
