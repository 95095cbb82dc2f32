"""The set of generated files and writing or checking them on disk.

Man pages go to ``man/man1/`` (a MANPATH root: ``MANPATH=man man mopstool``;
the wheel installs them under ``share/man/man1``), completion scripts to
``completions/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mopstool.cli.docgen.completion import completion_scripts
from mopstool.cli.docgen.man import man_pages
from mopstool.cli.docgen.tree import PROG

MAN_DIR = "man/man1"
COMPLETIONS_DIR = "completions"


def generated_files(tree) -> dict[str, str]:
    """{path relative to the output directory: text} of every generated file.

    ``tree`` is the command tree (a click command or a CommandDoc), walked once."""
    from mopstool.cli.docgen.tree import as_tree

    root = as_tree(tree)
    files = {f"{MAN_DIR}/{k}": v for k, v in man_pages(root).items()}
    files.update({f"{COMPLETIONS_DIR}/{k}": v for k, v in completion_scripts(root).items()})
    return dict(sorted(files.items()))


@dataclass
class SyncResult:
    written: list[str] = field(default_factory=list)    # new or changed
    removed: list[str] = field(default_factory=list)    # pages of commands that no longer exist
    unchanged: list[str] = field(default_factory=list)

    @property
    def stale(self) -> list[str]:
        return sorted(self.written + self.removed)


def _leftovers(out_dir: Path, files: dict[str, str]) -> list[str]:
    """Pages of commands that no longer exist (and pages of the old flat man/ layout)."""
    found = []
    for rel_dir in (MAN_DIR, "man"):
        man_dir = out_dir / rel_dir
        if man_dir.is_dir():
            found += [f"{rel_dir}/{p.name}" for p in man_dir.glob(f"{PROG}*.1")]
    return sorted(rel for rel in found if rel not in files)


def sync_files(out_dir: Path, files: dict[str, str], *, check: bool) -> SyncResult:
    """Write (or with check=True only compare) the generated files under out_dir."""
    res = SyncResult()
    for rel, text in files.items():
        path = out_dir / rel
        try:
            current = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            current = None
        if current == text:
            res.unchanged.append(rel)
            continue
        res.written.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    res.removed = _leftovers(out_dir, files)
    if not check:
        for rel in res.removed:
            (out_dir / rel).unlink()
    return res


