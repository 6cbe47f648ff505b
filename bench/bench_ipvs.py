"""IPVS table benchmark on a real IPVS kernel: run it inside the VM.

    scripts/ipvs-vm python3 bench/bench_ipvs.py [--vs 1000] [--rs 10] [--runs 3] [--json out.json]

    python3 bench/bench_ipvs.py --encode-only      # host: per-message encoding cost, no kernel

Measures kvrrp's reconcile path (healthcheck.ipvs.Reconciler over
healthcheck.ipvs_netlink.PyrouteKernel: pyroute2 opens the IPVS family, messages are packed by
healthcheck.ipvs_wire and sent in batches, the same objects the checker uses) against the
kernel, for a table of VS x RS (seeded, addresses in 198.18.0.0/15, NAT, rr, weights 1..10):

  desired_ms        the desired table computed from the typed config (pure Python; once)
  cold_apply_ms     empty kernel -> full table: VS service adds + VS*RS destination adds
  noop_ms           the next full reconcile of the same desired table: diff against the
                    mirror, nothing sent to the kernel
  noop_rebuilt_ms   a full reconcile of an equal but freshly built desired table (what a
                    reload without changes costs after the config is parsed)
  health_pass_ms    one real server's weight changed by a health transition: the engine's
                    per-service pass (Reconciler.reconcile_services), one "set"
  restart_ms        a fresh Reconciler on the populated kernel: dump it, diff, apply nothing
                    (what a checker restart costs; must apply 0 operations)
  one_change_ms     one destination's weight changed in a full reconcile: a single "set"
  ipvsadm_restore_ms  baseline: the same table through `ipvsadm -R` (C, one netlink message
                    per entry), i.e. what this kernel and this machine allow at best
  ipvsadm_clear_ms  `ipvsadm -C` of the full table
  raw_netlink_apply_ms  reference: the same cold table from Python with hand-packed generic
                    netlink messages (struct.pack), sent in batches and ACKed in bulk, i.e. what
                    Python can do here without pyroute2's per-message encoder

Every run starts from an empty table and checks its result against the kernel (dump and
`ipvsadm -Ln` line count). Targets from the issue: cold apply under 1 s, no-op under 10 ms,
on real hardware. The VM is TCG-emulated (no KVM here), so everything in the guest runs many
times slower than on the host; the ipvsadm baseline shows how much of that is the VM.
Refuses to run outside the VM (it clears the IPVS table) unless --i-own-this-kernel is given.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from healthcheck.health import declared, desired_table, initial_rs_states  # noqa: E402
from healthcheck.ipvs import Ownership, Reconciler  # noqa: E402
from healthcheck.ipvs_netlink import PyrouteKernel  # noqa: E402
from healthcheck.table import DestKey, Table  # noqa: E402
from kvrrp.config.model import Config, LvsMethod, RealServer, VirtualServer  # noqa: E402


def make_config(vs_count: int, per_vs: int, seed: int) -> Config:
    rnd = random.Random(seed)
    vss = []
    for v in range(vs_count):
        vip = f"198.18.{v // 250}.{v % 250 + 1}"
        servers = tuple(
            RealServer(ip=f"198.19.{(v * per_vs + r) // 250}.{(v * per_vs + r) % 250 + 1}",
                       port=8080, weight=rnd.randint(1, 10))
            for r in range(per_vs))
        vss.append(VirtualServer(ip=vip, port=80, protocol="TCP", lvs_sched="rr",
                                 lvs_method=LvsMethod(method="NAT"), real_servers=servers))
    return Config(virtual_servers=tuple(vss))


def same_table(kernel: Table, desired: Table) -> bool:
    """Equal as the reconciler sees it (kernel-internal flags such as "hashed" ignored)."""
    if kernel.entries.keys() != desired.entries.keys():
        return False
    for key, want in desired.entries.items():
        have = kernel.entries[key]
        if not have.service.same_attrs(want.service) or have.dests.keys() != want.dests.keys():
            return False
        if any(not have.dests[k].same_attrs(d) for k, d in want.dests.items()):
            return False
    return True


def ipvsadm(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["ipvsadm", *args], input=stdin, check=True, capture_output=True,
                          text=True, timeout=600).stdout


def ipvsadm_counts() -> tuple[int, int]:
    """(services, destinations) in `ipvsadm -Ln`."""
    lines = ipvsadm("-Ln").splitlines()[3:]
    return (sum(1 for line in lines if line.startswith("TCP  ")),
            sum(1 for line in lines if line.startswith("  -> ")))


def restore_script(table: Table) -> str:
    lines = []
    for key, entry in table.entries.items():
        svc = f"{key.addr}:{key.port}"
        lines.append(f"-A -t {svc} -s {entry.service.sched}")
        for dk, d in entry.dests.items():
            lines.append(f"-a -t {svc} -r {dk.addr}:{dk.port} -m -w {d.weight}")
    return "\n".join(lines) + "\n"


class RawIpvs:
    """Minimal generic netlink client for IPVS adds: a measuring stick, not kvrrp's adapter."""

    NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL = 1, 4, 0x400, 0x200
    GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLMSG_ERROR = 16, 3, 2
    IPVS_CMD_NEW_SERVICE, IPVS_CMD_NEW_DEST = 1, 5

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)   # NETLINK_GENERIC
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.seq = 0
        self.family = self._family_id(b"IPVS")

    @staticmethod
    def nla(kind: int, data: bytes) -> bytes:
        return struct.pack("=HH", 4 + len(data), kind) + data + b"\0" * (-len(data) % 4)

    def message(self, kind: int, flags: int, cmd: int, attrs: bytes) -> bytes:
        self.seq += 1
        payload = struct.pack("=BBH", cmd, 1, 0) + attrs
        return struct.pack("=IHHII", 16 + len(payload), kind, flags, self.seq, 0) + payload

    def _family_id(self, name: bytes) -> int:
        self.sock.send(self.message(self.GENL_ID_CTRL, self.NLM_F_REQUEST, self.CTRL_CMD_GETFAMILY,
                                    self.nla(2, name + b"\0")))
        data = self.sock.recv(65536)
        length, kind = struct.unpack_from("=IH", data)
        if kind == self.NLMSG_ERROR:
            raise OSError(-struct.unpack_from("=i", data, 16)[0], "no IPVS generic netlink family")
        off = 20
        while off < length:
            alen, akind = struct.unpack_from("=HH", data, off)
            if akind == 1:                                  # CTRL_ATTR_FAMILY_ID
                return struct.unpack_from("=H", data, off + 4)[0]
            off += (alen + 3) & ~3
        raise OSError("CTRL_ATTR_FAMILY_ID missing")

    def service_key(self, addr: str, port: int) -> bytes:
        return (self.nla(1, struct.pack("=H", socket.AF_INET)) + self.nla(2, struct.pack("=H", 6))
                + self.nla(3, socket.inet_aton(addr) + bytes(12)) + self.nla(4, struct.pack("!H", port)))

    def add_service(self, addr: str, port: int, sched: str) -> bytes:
        attrs = (self.service_key(addr, port) + self.nla(6, sched.encode() + b"\0")
                 + self.nla(7, struct.pack("=II", 0, 0xFFFFFFFF)) + self.nla(8, struct.pack("=I", 0))
                 + self.nla(9, struct.pack("=I", 0xFFFFFFFF)))
        return self.message(self.family, self.NLM_F_REQUEST | self.NLM_F_ACK | self.NLM_F_CREATE
                            | self.NLM_F_EXCL, self.IPVS_CMD_NEW_SERVICE, self.nla(1, attrs))

    def add_dest(self, svc_key: bytes, addr: str, port: int, weight: int) -> bytes:
        dest = (self.nla(1, socket.inet_aton(addr) + bytes(12)) + self.nla(2, struct.pack("!H", port))
                + self.nla(3, struct.pack("=I", 0)) + self.nla(4, struct.pack("=I", weight))
                + self.nla(5, struct.pack("=I", 0)) + self.nla(6, struct.pack("=I", 0))
                + self.nla(11, struct.pack("=H", socket.AF_INET)))
        return self.message(self.family, self.NLM_F_REQUEST | self.NLM_F_ACK | self.NLM_F_CREATE
                            | self.NLM_F_EXCL, self.IPVS_CMD_NEW_DEST,
                            self.nla(1, svc_key) + self.nla(2, dest))

    def send_all(self, messages: list[bytes], batch_bytes: int = 32768) -> int:
        """Send in batches of concatenated messages, read every ACK; returns failures."""
        failures = 0
        i = 0
        while i < len(messages):
            batch, size = [], 0
            while i < len(messages) and size + len(messages[i]) <= batch_bytes:
                batch.append(messages[i])
                size += len(messages[i])
                i += 1
            self.sock.send(b"".join(batch))
            pending = len(batch)
            while pending:
                data = self.sock.recv(1 << 20)
                off = 0
                while off < len(data):
                    length, kind = struct.unpack_from("=IH", data, off)
                    if kind == self.NLMSG_ERROR:
                        pending -= 1
                        if struct.unpack_from("=i", data, off + 16)[0] != 0:
                            failures += 1
                    off += (length + 3) & ~3
        return failures

    def close(self) -> None:
        self.sock.close()


def raw_apply(table: Table) -> float:
    raw = RawIpvs()
    try:
        t = time.perf_counter()
        messages = []
        for key, entry in table.entries.items():
            messages.append(raw.add_service(key.addr, key.port, entry.service.sched))
            skey = raw.service_key(key.addr, key.port)
            messages.extend(raw.add_dest(skey, dk.addr, dk.port, d.weight) for dk, d in entry.dests.items())
        failures = raw.send_all(messages)
        elapsed = time.perf_counter() - t
    finally:
        raw.close()
    assert failures == 0, f"{failures} raw netlink adds failed"
    return elapsed


def build_desired(config: Config) -> tuple[Table, Ownership]:
    states = {}
    for vs in config.virtual_servers:
        states.update(initial_rs_states(vs))
    desired = desired_table(config, states, {})
    services, dests = declared(config)
    return desired, Ownership(services, dests)


async def one_run(config: Config, vs_count: int, per_vs: int, *, baselines: bool) -> dict:
    from dataclasses import replace

    ipvsadm("-C")
    t = time.perf_counter()
    desired, owned = build_desired(config)
    t_desired = time.perf_counter() - t
    rebuilt, owned2 = build_desired(config)

    kernel = await PyrouteKernel().open()
    try:
        rec = Reconciler(kernel)
        t = time.perf_counter()
        await rec.start()
        cold = await rec.reconcile(desired, owned)
        t_cold = time.perf_counter() - t
        assert cold.ok and len(cold.applied) == vs_count * (1 + per_vs), cold.failed[:3]

        t = time.perf_counter()
        noop = await rec.reconcile(desired, owned)
        t_noop = time.perf_counter() - t
        assert noop.ok and not noop.applied, noop.applied[:3]

        t = time.perf_counter()
        noop2 = await rec.reconcile(rebuilt, owned2)
        t_noop2 = time.perf_counter() - t
        assert noop2.ok and not noop2.applied, noop2.applied[:3]

        # a health transition: the engine rebuilds that virtual server's entry and re-plans
        # only its service
        key = next(iter(rebuilt.entries))
        entry = rebuilt.entries[key]
        dkey = next(iter(entry.dests))
        entry.dests[dkey] = replace(entry.dests[dkey], weight=entry.dests[dkey].weight + 50)
        t = time.perf_counter()
        health = await rec.reconcile_services(rebuilt, [key])
        t_health = time.perf_counter() - t
        assert health.ok and [op.kind for op in health.applied] == ["set_dest"], health.applied
        entry.dests[dkey] = desired.entries[key].dests[dkey]
        assert (await rec.reconcile_services(rebuilt, [key])).ok

        restarted = Reconciler(kernel)
        t = time.perf_counter()
        await restarted.start()
        again = await restarted.reconcile(desired, owned)
        t_restart = time.perf_counter() - t
        assert again.ok and not again.applied, again.applied[:3]
        assert same_table(restarted.mirror, desired), "kernel dump differs from the desired table"

        changed = desired.copy()
        key = next(iter(changed.entries))
        dkey: DestKey = next(iter(changed.entries[key].dests))
        old = changed.entries[key].dests[dkey]
        changed.entries[key].dests[dkey] = replace(old, weight=old.weight + 100)
        t = time.perf_counter()
        one = await restarted.reconcile(changed, owned)
        t_one = time.perf_counter() - t
        assert one.ok and [op.kind for op in one.applied] == ["set_dest"], one.applied
    finally:
        await kernel.close()

    assert ipvsadm_counts() == (vs_count, vs_count * per_vs)
    ms = lambda s: round(s * 1000, 2)  # noqa: E731
    out = {"desired_ms": ms(t_desired), "cold_apply_ms": ms(t_cold), "noop_ms": ms(t_noop),
           "noop_rebuilt_ms": ms(t_noop2), "health_pass_ms": ms(t_health),
           "restart_ms": ms(t_restart), "one_change_ms": ms(t_one),
           "batches_sent": kernel.sends, "operations": len(cold.applied)}
    t = time.perf_counter()
    ipvsadm("-C")
    out["ipvsadm_clear_ms"] = ms(time.perf_counter() - t)
    if baselines:
        script = restore_script(desired)
        t = time.perf_counter()
        ipvsadm("-R", stdin=script)
        out["ipvsadm_restore_ms"] = ms(time.perf_counter() - t)
        assert ipvsadm_counts() == (vs_count, vs_count * per_vs)
        ipvsadm("-C")
        out["raw_netlink_apply_ms"] = ms(raw_apply(desired))
        assert ipvsadm_counts() == (vs_count, vs_count * per_vs)
        ipvsadm("-C")
    return out


def encode_cost(count: int = 2000) -> dict:
    """Host-side cost of building one IPVS_CMD_NEW_DEST message: kvrrp's struct encoder vs
    pyroute2's (IPVSService/IPVSDest + ipvsmsg.encode, what AsyncIPVS.dest("add") does)."""
    from pyroute2.ipvs import IPVSDest, IPVSService
    from pyroute2.netlink.generic import ipvs as genl

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "healthcheck"))
    from hc_pyroute2 import dest_fields, key_fields      # pyroute2's encoding: a test-side reference

    from healthcheck.ipvs import ADD_DEST, Op
    from healthcheck.table import Dest, ServiceKey

    k = PyrouteKernel()
    k.family_id = 0x25
    key = ServiceKey(4, 6, "198.18.0.1", 80)
    ops = [Op(ADD_DEST, key, dest=Dest(DestKey(f"198.19.{i // 250}.{i % 250 + 1}", 8080), weight=i % 10 + 1))
           for i in range(count)]
    t = time.perf_counter()
    for i, op in enumerate(ops):
        k.encode(op, i)
    ours = (time.perf_counter() - t) / count
    n_pr = max(1, count // 10)
    t = time.perf_counter()
    for i, op in enumerate(ops[:n_pr]):
        m = genl.ipvsmsg()
        m["cmd"] = genl.IPVS_CMD_NEW_DEST
        m["version"] = 1
        m["attrs"] = [("IPVS_CMD_ATTR_SERVICE", IPVSService(**key_fields(key)).dump_key()),
                      ("IPVS_CMD_ATTR_DEST", IPVSDest(**dest_fields(op.dest)).dump_nla())]
        m["header"]["sequence_number"] = i
        m.encode()
    theirs = (time.perf_counter() - t) / n_pr
    return {"kvrrp_us_per_new_dest": round(ours * 1e6, 2), "pyroute2_us_per_new_dest": round(theirs * 1e6, 1),
            "kvrrp_ms_per_11000": round(ours * 11000 * 1000, 1)}


def environment() -> dict:
    import pyroute2

    info = {"python": sys.version.split()[0], "pyroute2": pyroute2.__version__,
            "kernel": platform.release(), "cpus": os.cpu_count(),
            "in_vm": os.environ.get("KVRRP_IN_IPVS_VM") == "1"}
    try:
        import kvrrp
        info["kvrrp"] = kvrrp.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        with open("/proc/cpuinfo") as f:
            model = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = model[0] if model else None
    except OSError:
        pass
    if info["in_vm"]:
        info["note"] = ("qemu TCG software emulation (no KVM on this machine): the guest runs "
                        "many times slower than the host, Python 15-30x")
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vs", type=int, default=1000)
    ap.add_argument("--rs", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--encode-only", action="store_true",
                    help="only the host-side message encoding cost (no kernel needed)")
    ap.add_argument("--no-baselines", action="store_true",
                    help="skip the ipvsadm -R and hand-packed netlink baselines")
    ap.add_argument("--i-own-this-kernel", action="store_true",
                    help="run outside scripts/ipvs-vm (clears this machine's IPVS table!)")
    args = ap.parse_args()
    if args.encode_only:
        print(json.dumps(encode_cost()))
        return 0
    if os.environ.get("KVRRP_IN_IPVS_VM") != "1" and not args.i_own_this_kernel:
        print("bench_ipvs: clears the IPVS table; run it inside the VM: "
              "scripts/ipvs-vm python3 bench/bench_ipvs.py", file=sys.stderr)
        return 2
    if args.vs > 250 * 250 or args.vs * args.rs > 250 * 250 * 2:
        print("bench_ipvs: table too large for the address plan", file=sys.stderr)
        return 2

    config = make_config(args.vs, args.rs, args.seed)
    runs = []
    for i in range(args.runs):
        # the baselines do not change between runs: measured once
        r = asyncio.run(one_run(config, args.vs, args.rs, baselines=i == 0 and not args.no_baselines))
        runs.append(r)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v}" for k, v in r.items()), flush=True)
    keys = [k for k in runs[0] if k not in ("operations", "batches_sent")]
    summary = {k: {"min": min(r[k] for r in runs if k in r), "median": statistics.median(r[k] for r in runs if k in r)}
               for k in keys}
    result = {"table": {"virtual_servers": args.vs, "real_servers_each": args.rs,
                        "operations": runs[0]["operations"]},
              "runs": runs, "summary": summary, "environment": environment(), "encode": encode_cost(),
              "targets": {"cold_apply_ms": 1000, "noop_ms": 10}}
    print(f"\n{args.vs} VS x {args.rs} RS ({runs[0]['operations']} netlink operations), "
          f"{args.runs} runs, median (min):")
    for k in keys:
        target = result["targets"].get(k)
        extra = f"   target < {target} ms" if target else ""
        print(f"  {k:20s} {summary[k]['median']:>10.2f} ms  ({summary[k]['min']:.2f}){extra}")
    print(json.dumps(result["encode"]))
    print(json.dumps(result["environment"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
