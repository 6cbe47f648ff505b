"""Announcing VIPs over BGP through the routing daemon the node runs (docs/scale-out.md).

announcer.py  pure: events in (instance state, virtual server quorum, maintenance, shutdown),
              the desired route set out
reconcile.py  keeps the BGP daemon's kvrrp-owned routes equal to that set (serialised, retried)
wiring.py     the daemons' side: which events feed which announcer
kvrrp.io.bgp_frr is the narrow seam to FRR bgpd (vtysh).
"""
