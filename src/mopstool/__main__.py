"""The process entry point (the ``mopstool`` console script and ``python -m mopstool``).

Kept to the standard library until the interrupt watcher runs, so that Ctrl-C
during start-up prints one line and exits 130 instead of a traceback."""

import sys


def main() -> None:
    from mopstool import _startup

    _startup.hold()
    from mopstool import _interrupt

    try:
        _interrupt.install()
        from mopstool.cli.main import main as run
    except KeyboardInterrupt:
        _interrupt.say(_interrupt.STARTUP_MESSAGE)
        sys.exit(_interrupt.EXIT_INTERRUPTED)
    run()


if __name__ == "__main__":
    main()
