"""The known add-ons by name, and resolving a requested list of names (duplicates, conflicts)."""
from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable

from harness.core import progress, timings
from harness.core.errors import UsageError
from harness.core.fmt import duration
from harness.env.addons.certmanager import CertManager
from harness.env.addons.engine import Addon, AddonContext, check_images, ensure_addon
from harness.env.addons.ingress_nginx import IngressNginx
from harness.env.addons.postgres import Postgres
from harness.env.addons.traefik import Traefik

# Every add-on the harness knows, by name (the order is the install order when several are requested).
_REGISTRY: dict[str, type[Addon]] = {cls.name: cls for cls in (Traefik, IngressNginx, CertManager, Postgres)}
log = logging.getLogger(__name__)


def names() -> list[str]:
    """The known add-on names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> Addon:
    """A fresh instance of the add-on called ``name``.

    Raises:
        UsageError: unknown name (with the closest known name, or the list of known ones).
    """
    cls = _REGISTRY.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, names(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known add-ons: {', '.join(names())}"
        raise UsageError(f"addons: unknown add-on {name!r}; {hint}")
    return cls()


def resolve(requested: Iterable[str]) -> list[Addon]:
    """The add-ons for ``requested`` names, in order, checked for duplicates and conflicts.

    Raises:
        UsageError: unknown name, a name given twice, two add-ons that conflict (e.g. two ingress
            controllers: both want the ingress node's ports 80/443 and IngressClass ``nginx``).
    """
    wanted = [n.strip() for n in requested if n and n.strip()]
    if wanted == ["none"]:
        return []
    seen: set[str] = set()
    addons: list[Addon] = []
    for n in wanted:
        if n in seen:
            raise UsageError(f"addons: {n!r} is listed twice")
        seen.add(n)
        addons.append(get(n))
    ingress = [a.name for a in addons if a.ingress]
    if len(ingress) > 1:
        raise UsageError(f"addons: {' and '.join(ingress)} are both ingress controllers (each takes the "
                         "ingress node's ports 80/443 and IngressClass nginx); choose one")
    for a in addons:
        for other in a.conflicts:
            if other in seen:
                raise UsageError(f"addons: {a.name} cannot be installed together with {other}")
    return addons


def install_addons(requested: Iterable[str], ctx: AddonContext, *, smoke: bool = True) -> dict[str, float]:
    """Install the requested add-ons, in order; the session's entry point.

    Every add-on is resolved and preflight-checked, and every image made available, before the first
    one is installed. Each install is recorded as timing phase ``add-on <name>``.

    Args:
        requested: add-on names (configuration key ``addons``); ``["none"]`` or empty for none.
        ctx: the :class:`AddonContext`.
        smoke: run each add-on's smoke check.

    Returns:
        add-on name -> seconds its step took (also in ``ctx.results`` with the action taken).

    Raises:
        UsageError, EnvironmentNotReady: from the checks, before anything is installed.
        HarnessError (WaitTimeout, HelmError ...): an install, readiness or smoke check failed.
    """
    addons = resolve(requested)
    if not addons:
        return {}
    with timings.phase("add-ons preflight", announce=False):
        for a in addons:
            a.preflight(ctx)
        images = check_images(ctx, addons)
    seconds: dict[str, float] = {}
    for a in addons:
        with timings.phase(f"add-on {a.name}"):
            result = ensure_addon(a, ctx, images=images[a.name], smoke=smoke)
        seconds[a.name] = result.seconds
        progress.say(f"add-on {a.name}: {result.action} in {duration(result.seconds)}")
    return seconds


def teardown_addons(ctx: AddonContext, *, keep: bool = False) -> None:
    """Release what the session's add-ons hold (e.g. remove the PostgreSQL container unless ``keep``).

    Never raises for one add-on's failure before the others are done; the first error is re-raised.
    """
    first: BaseException | None = None
    for r in reversed(ctx.results):
        try:
            get(r.name).teardown(ctx, keep=keep)
        except Exception as exc:  # noqa: BLE001 - finish the others first
            log.warning("teardown of add-on %s failed: %s", r.name, exc)
            first = first or exc
    if first is not None:
        raise first
