from __future__ import annotations

import os

import pytest


class FakeEngine:
    """The two engine methods the tracking/notify packages use."""

    def __init__(self):
        self.listeners = []
        self.trackers = {}
        self.calls = []

    def add_transition_listener(self, cb):
        self.listeners.append(cb)

    def transition(self, name, old, new, prio, reason="test"):
        for cb in self.listeners:
            cb(name, old, new, reason, prio)

    def set_tracker(self, instance, key, status):
        self.trackers[(instance, key)] = status
        self.calls.append((instance, key, status))


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def script_dir(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    os.chmod(d, 0o755)
    return d


def _make_script(directory, name, body):
    p = directory / name
    p.write_text("#!/bin/sh\n" + body)
    os.chmod(p, 0o755)
    return str(p)


@pytest.fixture
def make_script():
    return _make_script
