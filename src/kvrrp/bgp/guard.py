"""The VRRP daemon's BGP guard: its follow-VRRP routes leave bgpd when it dies, even by SIGKILL.

    python3 -m kvrrp.bgp.guard ASN VTYSH [VTY_SOCKET]     (started by the VRRP daemon only)

bgpd is a separate, long-lived process: routes a SIGKILLed kvrrp announced would stay there
while a VRRP peer takes the VIPs over. This small child asks the kernel for SIGTERM when its
parent dies (PR_SET_PDEATHSIG) and then withdraws the routes of owner "vrrp" (the same
reconcile seam, desired set empty). On a clean stop the daemon has withdrawn them already and
this finds nothing to do. The checker process needs no guard: it already gets SIGTERM when the
VRRP daemon dies and withdraws its anycast routes on the way out.
"""
from __future__ import annotations

import asyncio
import signal
import sys

from kvrrp.io.bgp_frr import FrrBgp        # imported before the wait: the withdraw starts at once
from kvrrp.io.lifetime import die_with_parent, parent_from_environment

OWNER = "vrrp"


async def withdraw(asn: int, vtysh: str, vty_socket: str | None) -> int:
    speaker = FrrBgp(asn, vtysh=vtysh, vty_socket=vty_socket)
    routes = await speaker.routes(OWNER)
    if routes:
        await speaker.apply({}, sorted(routes))
    return len(routes)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or not argv[0].isdigit():
        print("usage: python3 -m kvrrp.bgp.guard ASN VTYSH [VTY_SOCKET]", file=sys.stderr)
        return 2
    asn, vtysh, vty = int(argv[0]), argv[1], (argv[2] if len(argv) == 3 else None)
    wanted = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted | {signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2})
    parent = parent_from_environment()
    if parent is not None and die_with_parent(parent, signal.SIGTERM):
        signal.sigwait(wanted)               # the parent died, or stopped this guard
    try:
        n = asyncio.run(withdraw(asn, vtysh, vty))
    except Exception as exc:  # noqa: BLE001 - last words on stderr (the daemon's log)
        print(f"kvrrp BGP guard: withdrawing the VRRP routes failed: {exc}", file=sys.stderr)
        return 1
    if n:
        print(f"kvrrp BGP guard: the VRRP daemon is gone; withdrew {n} route(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
