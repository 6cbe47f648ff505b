"""Config fuzzing: mutations of real configurations (the shipped seeds and corpus) and
Hypothesis-built text, each through `kvrrp -t` (kvrrp.config.cli.run_config_test, in process)
and through the daemon's reload path (Daemon.reload: parse, reload_guard, validation,
VrrpEngine.apply_config on fake adapters). Neither may raise; a reload either applies or is
refused, and a refused one leaves the running configuration in place.

Scripts named by a fuzzed configuration are never run (no trackers or notify layer here).
"""
from __future__ import annotations

import asyncio
import glob
import io
import os
import random
import tempfile
import time
import traceback
import types
from collections import Counter
from typing import Callable, Iterator

WORDS = ["{", "}", "vrrp_instance", "virtual_server", "real_server", "HTTP_GET", "url", "path", "global_defs",
         "virtual_ipaddress", "198.18.0.1/24", "dev", "eth0", "eth9", "$X=", "$X", "${X}", "~SEQ(i,1,3)", "@h",
         "#", "!", '"', "\\", "priority", "300", "-1", "0.5", "0", "255", "virtual_router_id", "track_script",
         "weight", "authentication", "auth_type", "PASS", "version", "3", "fwmark", "unicast_peer",
         "interface", "nopreempt", "advert_int", "use_vmac", "track_interface", "vrrp_sync_group", "group",
         "2001:db8::1", "198.18.0.300", "\n", " ", "\t", "include", "notify_master", "state", "MASTER"]
INTERFACES = frozenset({"lo", "eth0", "eth1", "eth2", "bond0", "ens3", "ens192", "enp0s3"})


def shipped_configs(root: str) -> list[str]:
    """Texts of the seed and corpus configurations under tests/data."""
    paths = sorted(glob.glob(os.path.join(root, "tests", "data", "seeds", "*.conf")) +
                   glob.glob(os.path.join(root, "tests", "data", "configs", "*.conf")))
    out = []
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as fh:
            out.append(fh.read())
    return out


def mutate(text: str, rng: random.Random) -> str:
    """One to four edits an editor, a script or a disk could make."""
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(rng.randint(1, 4)):
        lines = lines or [""]
        op = rng.randrange(9)
        if op == 0 and text:                                      # truncated at a byte
            text = text[:rng.randrange(len(text))]
            lines = text.splitlines(keepends=True) or [""]
            continue
        i = rng.randrange(len(lines))
        if op == 1:
            del lines[i]
        elif op == 2:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 3:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 4:
            words = lines[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            lines[i] = " ".join(words)
        elif op == 5:
            lines[i] = lines[i].replace(rng.choice("{}"), "", 1)
        elif op == 6:
            lines.insert(i, " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) + "\n")
        elif op == 7:
            digits = [k for k, c in enumerate(lines[i]) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                lines[i] = lines[i][:k] + str(rng.choice((0, 9, 99999, -1))) + lines[i][k + 1:]
        else:
            raw = bytearray(lines[i].encode("utf-8", "replace"))
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            lines[i] = raw.decode("utf-8", "replace")
        text = "".join(lines)
    return text


def hypothesis_texts(n: int, seed: int) -> list[str]:
    """n texts drawn by Hypothesis from a keepalived-shaped grammar (blocks of keywords)."""
    from hypothesis import HealthCheck, given, settings, strategies as st
    from hypothesis import seed as hseed

    word = st.sampled_from(WORDS) | st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12) | \
        st.integers(-5, 70000).map(str)
    line = st.lists(word, min_size=1, max_size=6).map(" ".join)
    block = st.builds(lambda name, body: f"vrrp_instance VI_{name} {{\n" + "\n".join(body) + "\n}\n",
                      st.integers(0, 99), st.lists(line, max_size=12))
    doc = st.lists(block | line, max_size=6).map("\n".join)
    out: list[str] = []

    @hseed(seed)
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(doc)
    def collect(text: str) -> None:
        out.append(text)

    collect()
    return out[:n]


class _Transport:
    def send(self, payload: bytes, dst: str, src: str | None = None, ttl: int | None = None) -> None:
        pass

    def local_address(self) -> str | None:
        return "198.18.0.1"

    def close(self) -> None:
        pass


class _Transports:
    def open(self, ifname: str, family: int, on_receive, group):  # noqa: ANN001, ANN201
        if ifname not in INTERFACES and not ifname.startswith("vrrp"):
            raise OSError(None, f"no interface named {ifname}")
        return _Transport()


class _Addresses:
    def __init__(self) -> None:
        self.held: set = set()

    def add(self, spec) -> None:  # noqa: ANN001
        self.held.add(spec)

    def remove(self, spec) -> None:  # noqa: ANN001
        self.held.discard(spec)

    def present(self, spec) -> bool:  # noqa: ANN001
        return spec in self.held


class _Announcer:
    def gratuitous_arp(self, ifname: str, address: str) -> None:
        pass

    def unsolicited_na(self, ifname: str, address: str) -> None:
        pass


class ReloadHarness:
    """A Daemon running `base` on a real VrrpEngine with fake adapters; `reload(text)` puts
    text in its file and runs Daemon.reload()."""

    def __init__(self, base: str, workdir: str) -> None:
        from kvrrp.daemon import Daemon, load_config
        from kvrrp.vrrp.engine import VrrpEngine

        self.path = os.path.join(workdir, "keepalived.conf")
        with open(self.path, "w") as fh:
            fh.write(base)
        config = load_config(self.path, "h", out=io.StringIO())
        if config is None:
            raise ValueError("the base configuration does not load")
        self.base_config = config
        args = types.SimpleNamespace(config=self.path, config_id="h", allow_reload_removing_all=False)
        self.daemon = Daemon(args, config)
        self.daemon.host_interfaces = lambda: INTERFACES
        self.daemon.engine = VrrpEngine(config, transports=_Transports(), addresses=_Addresses(),
                                        announcer=_Announcer(), drive_timers=False,
                                        source_address=lambda inst: "198.18.0.1")
        self.daemon.engine.start()

    async def reload(self, text: str) -> str:
        with open(self.path, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(text)
        before = dict(self.daemon.reloads.as_dict())
        await self.daemon.reload()
        after = self.daemon.reloads.as_dict()
        for outcome in ("applied", "refused", "failed"):
            if after[outcome] > before[outcome]:
                return outcome
        return "none"

    def reset(self) -> None:
        """Back to the base configuration (so the next mutation is judged against it)."""
        if self.daemon.config is not self.base_config:
            self.daemon.engine.apply_config(self.base_config)
            self.daemon.config = self.base_config


def config_test(text: str, workdir: str) -> int:
    from kvrrp.config import cli

    path = os.path.join(workdir, "t.conf")
    with open(path, "w", encoding="utf-8", errors="replace") as fh:
        fh.write(text)
    interfaces = INTERFACES
    real = cli.load

    def load(p, config_id=None, **kw):  # noqa: ANN001, ANN202 - the host here has other interfaces
        kw["interfaces"] = interfaces
        return real(p, config_id, **kw)

    cli.load = load
    try:
        return cli.run_config_test(path, config_id="h", out=io.StringIO(), check_interfaces=False)
    finally:
        cli.load = real


BASE = """global_defs {
    router_id fuzz
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.18.0.200/24
    }
}
"""


def texts(n: int, seed: int, root: str, hypothesis_share: float = 0.2) -> Iterator[tuple[str, str]]:
    """(kind, text): mutations of the shipped configs, plus a share from Hypothesis."""
    rng = random.Random(seed)
    corpus = shipped_configs(root) + [BASE]
    n_hyp = int(n * hypothesis_share)
    made = 0
    chunk = 500
    while made < n_hyp:
        for t in hypothesis_texts(min(chunk, n_hyp - made), seed + made):
            yield "hypothesis", t
            made += 1
    for _ in range(n - made):
        yield "mutation", mutate(rng.choice(corpus), rng)


def config_fuzz(n: int, seed: int = 1, root: str | None = None, progress: Callable[[int], None] | None = None,
                hypothesis_share: float = 0.2, deadline: float | None = None,
                max_generated_lines: int | None = None) -> dict:
    """Run n fuzzed configurations through `kvrrp -t` and a reload; count outcomes and every
    exception (there must be none). deadline: a time.time() at which to stop early (the result
    says how many ran); SIGINT stops early too. max_generated_lines: lower the lexer's cap on
    lines made by ~SEQ/~LST for the run (a mutated generator line reaching the default cap of
    5,000,000 costs minutes and gigabytes to expand, which would starve the campaign)."""
    from kvrrp.config import lexer

    saved_cap = lexer.MAX_GENERATED_LINES
    if max_generated_lines is not None:
        lexer.MAX_GENERATED_LINES = max_generated_lines
    try:
        return _config_fuzz(n, seed, root, progress, hypothesis_share, deadline)
    finally:
        lexer.MAX_GENERATED_LINES = saved_cap


def _config_fuzz(n: int, seed: int, root: str | None, progress: Callable[[int], None] | None,
                 hypothesis_share: float, deadline: float | None) -> dict:
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    exit_codes: Counter = Counter()
    outcomes: Counter = Counter()
    kinds: Counter = Counter()
    errors: list[str] = []
    kept_running = 0
    interrupted = False
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None       # thousands of small writes
    with tempfile.TemporaryDirectory(prefix="kvrrp-cfgfuzz-", dir=shm) as work:
        harness = ReloadHarness(BASE, work)
        loop = asyncio.new_event_loop()
        try:
            for i, (kind, text) in enumerate(texts(n, seed, root, hypothesis_share)):
                kinds[kind] += 1
                try:
                    exit_codes[config_test(text, work)] += 1
                except Exception:  # noqa: BLE001 - counted and reported: must be none
                    errors.append("kvrrp -t: " + traceback.format_exc(limit=3))
                try:
                    outcome = loop.run_until_complete(harness.reload(text))
                    outcomes[outcome] += 1
                    if outcome != "applied" and harness.daemon.config is harness.base_config:
                        kept_running += 1
                    harness.reset()
                except Exception:  # noqa: BLE001
                    errors.append("reload: " + traceback.format_exc(limit=3))
                    harness = ReloadHarness(BASE, work)
                if progress is not None and (i + 1) % 500 == 0:
                    progress(i + 1)
                if deadline is not None and time.time() > deadline:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            loop.close()
    return {"configs": sum(kinds.values()), "asked": n, "interrupted": interrupted, "kinds": dict(kinds), "config_test_exit_codes": dict(exit_codes),
            "reload_outcomes": dict(outcomes), "refused_kept_running": kept_running,
            "exceptions": len(errors), "first_exceptions": errors[:5]}
