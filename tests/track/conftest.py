from __future__ import annotations

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
