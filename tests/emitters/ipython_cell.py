"""Run another emitter inside an IPython shell cell, as a notebook would, so that an exception is
printed the way Jupyter prints it (`RuntimeError   Traceback (most recent call last)`, `Cell In[1],
line 3`, `----> 3` frames, the exception named in the header).

    python tests/emitters/ipython_cell.py --out truth.json EMITTER.py [ARGS...]

The truth file is the inner emitter's (it is written before the exception propagates).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = argv[argv.index("--out") + 1]
    del argv[argv.index("--out"): argv.index("--out") + 2]
    script, *args = argv
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    path = Path(__file__).resolve().parent / script
    cell = (f"import runpy, sys\n"
            f"sys.argv = {[str(path), '--out', out, *args]!r}\n"
            f"runpy.run_path({str(path)!r}, run_name='__main__')\n")
    result = shell.run_cell(cell)
    return 1 if result.error_in_exec is not None else 0


if __name__ == "__main__":
    sys.exit(main())
