"""Hypothesis over the reload path: mutations of the shipped seed and corpus configurations,
and keyword soup, through `kvrrp -t` and Daemon.reload on a real VrrpEngine (fake adapters).
Neither raises; a refused reload keeps the running configuration and the engine's instances."""
from __future__ import annotations

import asyncio
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvrrp.chaos.configs import BASE, WORDS, ReloadHarness, config_test, mutate, shipped_configs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = shipped_configs(ROOT) + [BASE]
# Derandomized, without an example database: the suite runs the same 120 examples every time
# (a random seed can mutate a ~SEQ bound into millions of generated lines - refused, counted,
# but minutes of parsing - and a saved example would replay it on every later run); the wide
# random search is bench/chaos_campaign.py's (100,000 configurations, docs/reliability.md).
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True, database=None)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return ReloadHarness(BASE, str(tmp_path_factory.mktemp("reload")))


def check(harness: ReloadHarness, text: str, workdir: str) -> None:
    assert config_test(text, workdir) in (0, 4, 5, 6)
    loop = asyncio.new_event_loop()
    try:
        outcome = loop.run_until_complete(harness.reload(text))
    finally:
        loop.close()
    assert outcome in ("applied", "refused"), harness.daemon.reloads.last_error
    if outcome == "refused":
        assert harness.daemon.config is harness.base_config
        assert list(harness.daemon.engine.instances) == ["VI_1"]
    harness.reset()


def test_corpus_is_shipped() -> None:
    assert len(CORPUS) > 50


@SETTINGS
@given(st.sampled_from(CORPUS), st.integers(0, 2**32 - 1))
def test_mutated_shipped_configs(harness, tmp_path_factory, text, seed) -> None:  # noqa: ANN001
    check(harness, mutate(text, random.Random(seed)), str(tmp_path_factory.getbasetemp()))


@SETTINGS
@given(st.lists(st.sampled_from(WORDS), max_size=60))
def test_keyword_soup(harness, tmp_path_factory, words) -> None:  # noqa: ANN001
    check(harness, " ".join(words), str(tmp_path_factory.getbasetemp()))
