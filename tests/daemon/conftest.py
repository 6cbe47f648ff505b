from __future__ import annotations

import os

import pytest


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
