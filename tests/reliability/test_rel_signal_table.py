"""kvrrp.signals: keepalived's named signals and their numbers (`keepalived --signum=NAME`)."""
from __future__ import annotations

import shutil
import signal
import subprocess

import pytest

from kvrrp import signals

# keepalived 2.4 lib/signals.h / get_signum(): the same numbers as 2.2.7.
EXPECTED = {
    "STOP": signal.SIGTERM,
    "RELOAD": signal.SIGHUP,
    "DATA": signal.SIGUSR1,
    "STATS": signal.SIGUSR2,
    "STATS_CLEAR": signal.SIGRTMAX - 1,
    "JSON": signal.SIGRTMIN + 2,
    "TDUMP": signal.SIGRTMAX,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_signum_matches_keepalived_headers(name):
    assert signals.signum(name) == int(EXPECTED[name])


@pytest.mark.parametrize("bad", ["", "stop", "SIGTERM", "HUP", "STATS-CLEAR", "TDATA", "JSON "])
def test_unknown_name_raises(bad):
    with pytest.raises(ValueError, match="Unknown sigfunc"):
        signals.signum(bad)


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived not installed")
@pytest.mark.parametrize("name", ["STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON"])
def test_same_numbers_as_installed_keepalived(name):
    out = subprocess.run(["keepalived", f"--signum={name}"], capture_output=True, text=True, timeout=10)
    assert int(out.stdout.strip()) == signals.signum(name)


def test_every_realtime_signal_is_handled_or_ignored():
    table = {s.number for s in signals.SIGNALS}
    ignored = set(signals.ignored_signals())
    assert not table & ignored
    for number in range(int(signal.SIGRTMIN), int(signal.SIGRTMAX) + 1):
        assert number in table or number in ignored, number


def test_ignored_signals_are_catchable_and_exclude_the_fatal_ones():
    ignored = signals.ignored_signals()
    for never in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGSEGV, signal.SIGINT):
        assert int(never) not in ignored
    assert int(signal.SIGQUIT) in ignored and int(signal.SIGALRM) in ignored
    old = {n: signal.getsignal(n) for n in ignored}
    try:
        for n in ignored:
            signal.signal(n, signal.SIG_IGN)   # raises for an uncatchable number
    finally:
        for n, handler in old.items():
            signal.signal(n, handler)


def test_describe_names_realtime_signals_like_kill_does():
    assert signals.describe(signal.SIGRTMAX - 1) == "SIGRTMAX-1 (STATS_CLEAR)"
    assert signals.describe(signal.SIGRTMIN) == "SIGRTMIN"
    assert signals.describe(signal.SIGRTMIN + 3) == "SIGRTMIN+3"
    assert signals.describe(signal.SIGUSR2) == "SIGUSR2 (STATS)"


def test_transport_error_for_a_missing_interface_reads_cleanly():
    """Issue 10 failure 5: was "[Errno None] cannot open VRRP socket on eth9: None"."""
    import asyncio

    from kvrrp.io.transport import RawTransportFactory, TransportError

    loop = asyncio.new_event_loop()
    try:
        factory = RawTransportFactory(loop)
        with pytest.raises(TransportError) as info:
            factory.open("kvno0if9", 4, lambda rx: None, None)
        assert str(info.value) == "no interface named kvno0if9"
        assert "None" not in str(info.value) and "Errno" not in str(info.value)
    finally:
        loop.close()
