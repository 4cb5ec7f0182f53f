"""Refuse to start a gateway from code that worker processes would run again.

The local renderer and the media work (probe, thumbnails) run in ``forkserver`` process
pools, and ``multiprocessing`` imports the main script into those processes first. A script
that starts the gateway at its top level, outside ``if __name__ == "__main__":``, would start
one more gateway in each of them, and its renders would never finish. So before starting,
the gateway looks at the main script's top-level statement being run (when there is one): if
it is not that ``if``, it says so at once, with the file and line. A script read from stdin
cannot be imported at all. ``python -c``, the REPL and notebooks have no script to import.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
from pathlib import Path
from types import FrameType, ModuleType

GUARDS = {"__name__ == '__main__'", "'__main__' == __name__"}


def check_main_script() -> None:
    """``RuntimeError`` when starting a gateway here would start one in every worker."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(_advice("the main script, imported into a worker process,"))
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        return
    if not Path(path).is_file():
        raise RuntimeError(
            f"vidgate.inprocess needs the main script in a file ({path} is not one): the "
            "local renderer's worker processes import it; save the script and run the file"
        )
    frame = _top_level_frame(main)
    if frame is not None and not _guarded(Path(path), frame.f_lineno):
        raise RuntimeError(_advice(f"{path}, line {frame.f_lineno},"))


def _advice(where: str) -> str:
    return (
        f"vidgate.inprocess: {where} starts the gateway in code that runs on import; the local "
        "renderer's and media work's worker processes (a multiprocessing forkserver pool) "
        "import the main script and would start a gateway each: start it under "
        '`if __name__ == "__main__":`'
    )


def _top_level_frame(main: ModuleType) -> FrameType | None:
    """The frame running the main script's module-level code, if it is still running."""
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            return frame
        frame = frame.f_back
    return None


def _guarded(path: Path, line: int) -> bool:
    """Whether line ``line`` of the script lies in an ``if __name__ == "__main__":`` block
    (an unreadable script is given the benefit of the doubt)."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return True
    for statement in tree.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            return isinstance(statement, ast.If) and ast.unparse(statement.test) in GUARDS
    return True
