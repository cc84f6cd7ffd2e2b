"""`python -m dashboard.serve <arguments of streamlit>`: Streamlit's own command line, with the warm-up.

`epam dashboard` replaces itself with this process. It imports what the pages import, starts
``dashboard.warmup`` in a daemon thread (the runs directory from ``EPAM_RUNS_DIR``) and then runs
Streamlit's CLI in the main thread, exactly as `python -m streamlit` does: Streamlit installs its signal handlers there, so SIGTERM and Ctrl-C stop the
server and free the port as before, whatever the warm-up is doing.
"""

from __future__ import annotations

import sys


def main() -> None:
    from dashboard import paths, warmup

    warmup.preimport()  # in this thread: the warm-up thread imports nothing the server imports meanwhile
    warmup.start(paths.runs_root())
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
