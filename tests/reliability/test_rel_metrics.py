"""/metrics carries what reloads, stray signals and script leftovers did (from /status)."""
from __future__ import annotations

from kvrrp.metrics import render_metrics


def test_reload_signal_and_leftover_counters_are_exported() -> None:
    text = render_metrics({"reload": {"applied": 2, "refused": 1, "failed": 0, "coalesced": 3},
                           "signals": {"ignored": {"SIGRTMIN+5": 2, "SIGQUIT": 1}},
                           "script_leftovers": {"leftovers_killed": 4, "leftovers_reaped": 1}})
    lines = set(text.splitlines())
    assert 'kvrrp_reloads_total{outcome="refused"} 1' in lines
    assert 'kvrrp_reloads_total{outcome="coalesced"} 3' in lines
    assert 'kvrrp_signals_ignored_total{signal="SIGRTMIN+5"} 2' in lines
    assert 'kvrrp_script_leftovers_total{action="killed"} 4' in lines


def test_missing_sections_render_as_zero() -> None:
    text = render_metrics({})
    assert 'kvrrp_reloads_total{outcome="applied"} 0' in text.splitlines()
