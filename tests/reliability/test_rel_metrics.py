"""/metrics carries what reloads, stray signals and script leftovers did (from /status)."""
from __future__ import annotations

from kvrrp.metrics import render, vrrp_registry


def _lines(status: dict) -> set[str]:
    return set(render(vrrp_registry(lambda: status)).decode().splitlines())


def test_reload_signal_and_leftover_counters_are_exported() -> None:
    lines = _lines({"reload": {"applied": 2, "refused": 1, "failed": 0, "coalesced": 3},
                    "signals": {"ignored": {"SIGRTMIN+5": 2, "SIGQUIT": 1}},
                    "script_leftovers": {"leftovers_killed": 4, "leftovers_reaped": 1}})
    assert 'kvrrp_reloads_total{outcome="refused"} 1.0' in lines
    assert 'kvrrp_reloads_total{outcome="coalesced"} 3.0' in lines
    assert 'kvrrp_signals_ignored_total{signal="SIGRTMIN+5"} 2.0' in lines
    assert 'kvrrp_script_leftovers_total{action="killed"} 4.0' in lines


def test_missing_sections_render_as_zero() -> None:
    assert 'kvrrp_reloads_total{outcome="applied"} 0.0' in _lines({})
