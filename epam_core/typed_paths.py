"""Which paths typed into the dashboard it may open.

On 127.0.0.1 the dashboard serves the person at the machine, who may open any of their files. Served on
another address (``epam dashboard --host 0.0.0.0``) anyone who reaches the page could probe the file system
through the path boxes ("... is empty", "not an evaluation run"), so there a typed path must lie under one
of the allowed roots: the ``--runs`` folder and the ``--data-root`` folder. The refusal reads the same
whether the path exists or not.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from epam_core.errors import EpamError

HOST_ENV = "EPAM_DASHBOARD_HOST"  # the address `epam dashboard` binds, for the pages
DATA_ROOT_ENV = "EPAM_DATA_ROOT"  # `epam dashboard --data-root`


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is reachable from this machine only (``127.x``, ``::1``, ``localhost``); an empty or
    unknown host counts as reachable from elsewhere (Streamlit binds every interface when none is given)."""
    if not host:
        return False
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def restricted_roots(host: str | None, roots: Sequence[str | Path | None]) -> list[Path] | None:
    """The folders typed paths must lie under (resolved), or None when any path may be typed (loopback)."""
    if is_loopback(host):
        return None
    return [Path(r).expanduser().resolve() for r in roots if r]


def check_typed_path(
    text: str, host: str | None, roots: Sequence[str | Path | None], also: Sequence[str | Path] = ()
) -> Path:
    """The typed ``text`` as a resolved path, if the dashboard served on ``host`` may open it: any path on
    loopback; elsewhere only paths under ``roots`` or exactly one of ``also`` (paths the page itself offers,
    e.g. the bundled checkpoint). Raises ``EpamError`` otherwise, the same whether the path exists or not."""
    path = Path(text).expanduser().resolve()
    allowed = restricted_roots(host, roots)
    if allowed is None:
        return path
    if any(path.is_relative_to(root) for root in allowed):
        return path
    if any(path == Path(a).expanduser().resolve() for a in also):
        return path
    where = ", ".join(f"`{r}`" for r in allowed) or "no folder (start it with --runs or --data-root)"
    raise EpamError(
        text,
        f"not opened: this dashboard is served on {host or 'every address'}, so typed paths must lie under {where}",
    )


def dashboard_host(server_address: str | None = None) -> str | None:
    """The address the dashboard is served on: what `epam dashboard` passed, else Streamlit's own option."""
    return os.environ.get(HOST_ENV) or server_address


def dashboard_roots(runs_root: str | Path) -> list[str | Path | None]:
    """The allowed roots of the dashboard: its runs folder and the ``--data-root`` folder if one was given."""
    return [runs_root, os.environ.get(DATA_ROOT_ENV)]


def dashboard_note(runs_root: str | Path, server_address: str | None = None) -> str | None:
    """The line a page shows under a path box when typed paths are limited, else None."""
    host = dashboard_host(server_address)
    allowed = restricted_roots(host, dashboard_roots(runs_root))
    if allowed is None:
        return None
    where = ", ".join(f"`{r}`" for r in allowed)
    return f"Served on {host or 'every address'}: typed paths must lie under {where} (`epam dashboard --data-root`)."


def check_dashboard_path(
    text: str, runs_root: str | Path, server_address: str | None = None, also: Sequence[str | Path] = ()
) -> Path:
    """``check_typed_path`` with the dashboard's host and roots (see ``dashboard_host``, ``dashboard_roots``)."""
    return check_typed_path(text, dashboard_host(server_address), dashboard_roots(runs_root), also)
