"""The BFD part of the data dump (SIGUSR1 / -d), in keepalived's dump_bfd() words."""
from __future__ import annotations

from typing import Any

from kvrrp.bfd.packet import DIAG_NAMES, STATE_NAMES


def format_bfd(service: Any) -> str:
    """'------< BFD Data >------' and one block per session; '' when no session runs."""
    if service is None or not service.sessions:
        return ""
    out = ["------< BFD Data >------"]
    for name, e in sorted(service.sessions.items()):
        p, s = e.peer, e.session
        st = s.settings
        out += [f" BFD Instance = {name}", f"   Neighbor IP = {p.neighbor}"]
        if p.source:
            out.append(f"   Source IP = {p.source}")
        out += [f"   Required min RX interval = {st.min_rx} us",
                f"   Desired min TX interval = {st.min_tx} us",
                f"   Desired idle TX interval = {st.idle_tx} us",
                f"   Detection multiplier = {st.detect_mult}",
                f"   {'TTL' if p.family == 4 else 'hoplimit'} = {p.ttl}",
                f"   max_hops = {p.max_hops}",
                f"   passive = {'true' if st.passive else 'false'}",
                f"   send event to VRRP process = {'true' if p.vrrp else 'false'}",
                f"   send event to checker process = {'true' if p.checker else 'false'}",
                f"   send error = {'true' if e.send_errors else 'false'}",
                f"   local state = {STATE_NAMES[s.state]}",
                f"   remote state = {STATE_NAMES[s.remote_state]}",
                f"   local discriminator = 0x{s.local_discr:x}",
                f"   remote discriminator = 0x{s.remote_discr:x}",
                f"   local diag = {DIAG_NAMES[s.local_diag]}",
                f"   remote diag = {DIAG_NAMES[s.remote_diag] if s.remote_diag < len(DIAG_NAMES) else s.remote_diag}",
                f"   remote min tx intv = {s.remote_min_tx} us",
                f"   remote min rx intv = {s.remote_min_rx} us",
                f"   remote demand = {int(s.remote_demand)}",
                f"   remote detect multiplier = {s.remote_mult}",
                f"   {'' if s.poll else '!'}poll, {'' if s.final else '!'}final",
                f"   local tx intv = {s.tx_interval} us",
                f"   local detection time = {s.detection_time} us"]
    return "\n".join(out) + "\n"
