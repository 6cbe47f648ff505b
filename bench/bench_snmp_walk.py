"""SNMP walk benchmark: how long net-snmp's tools take to walk a kvrrp master's MIBs, and
whether the backup beside it notices (it must not: the tables are built in slices).

    sudo python3 bench/bench_snmp_walk.py [--instances 250]

Two kvrrp nodes in a kvrrp.lab, N instances (N <= 255: one VRID each on one interface,
advert_int 1): n1 MASTER of all with enable_snmp_vrrp and enable_snmp_rfcv2, n2 BACKUP of all
without SNMP; a private snmpd / snmptrapd (tests/snmp/snmp_tools.py) on 127.0.0.1. Prints the
OID counts and durations of snmpwalk and snmpbulkwalk of the vrrp branch and of VRRP-MIB, and
how many transitions n2 logged meanwhile. Opt-in, nothing asserted on time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "snmp"))

from kvrrp.lab import Lab, VrrpSpec, render_config  # noqa: E402
from snmp_tools import NetSnmp, wait_for  # noqa: E402

K_VRRP = ".1.3.6.1.4.1.9586.100.5.2"
RFC2787 = ".1.3.6.1.2.1.68"


def specs(n: int, priority: int) -> list[VrrpSpec]:
    return [VrrpSpec(name=f"I{i}", vrid=i + 1, priority=priority, advert_int=1,
                     vips=(f"198.19.{i // 250}.{i % 250 + 1}/32",)) for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=250)
    ap.add_argument("--json")
    args = ap.parse_args()
    n = min(args.instances, 255)
    out: dict = {"instances": n}
    with tempfile.TemporaryDirectory() as work, NetSnmp(work) as snmp, \
            Lab(nodes=2, prefix="kvwb", client=False) as lab:
        n1, n2 = lab.nodes
        glob = ["enable_snmp_vrrp", "enable_snmp_rfcv2", f"snmp_socket unix:{snmp.socket}"]
        master = lab.start_kvrrp(n1, render_config(specs(n, 150), glob), tag="master")
        backup = lab.start_kvrrp(n2, render_config(specs(n, 100)), tag="backup")
        if not wait_for(lambda: master.log().count("Entering MASTER STATE") >= n
                        and backup.log().count("Entering BACKUP STATE") >= n, 300):
            print("the election did not finish", file=sys.stderr)
            return 1
        time.sleep(3)
        before = backup.log().count("Entering")
        for name, oid, bulk in (("walk_vrrp", K_VRRP, False), ("bulkwalk_vrrp", K_VRRP, True),
                                ("bulkwalk_rfc2787", RFC2787, True)):
            t = time.monotonic()
            rows = snmp.walk(oid, bulk=bulk)
            out[name] = {"oids": len(rows), "seconds": round(time.monotonic() - t, 2)}
        time.sleep(2)
        out["backup_transitions_during_walks"] = backup.log().count("Entering") - before
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
