"""kvrrp's checker side: IPVS tables kept true by health checks (keepalived's -C child)."""
