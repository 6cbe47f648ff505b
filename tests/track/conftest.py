from __future__ import annotations

import os

import pytest


class FakeEngine:
    def __init__(self):
        self.trackers = {}
        self.calls = []
        self.listeners = []

    def set_tracker(self, instance, key, status):
        self.trackers[(instance, key)] = status
        self.calls.append((instance, key, status))

    def add_transition_listener(self, cb):
        self.listeners.append(cb)


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def make_script(tmp_path):
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)

    def make(name, body):
        p = d / name
        p.write_text("#!/bin/sh\n" + body)
        os.chmod(p, 0o755)
        return str(p)
    return make
