"""The pid file: one daemon per file, stale files taken over."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kvrrp.pidfile import AlreadyRunning, PidFile

HOLD = """
import sys, time
from kvrrp.pidfile import PidFile
p = PidFile(sys.argv[1]); p.acquire(); print("held", flush=True); time.sleep(30)
"""


def test_second_copy_refused_while_first_holds(tmp_path) -> None:
    path = str(tmp_path / "kvrrp.pid")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=str(holder.pid)):
            PidFile(path).acquire()
        assert open(path).read().strip() == str(holder.pid)  # the refused copy changed nothing
    finally:
        holder.kill()
        holder.wait()
    # the holder died without cleaning up: its file is stale and is taken over
    assert os.path.exists(path)
    pid = PidFile(path)
    pid.acquire()
    assert open(path).read().strip() == str(os.getpid())
    pid.release()
    assert not os.path.exists(path)


def test_stale_file_with_garbage_is_taken_over(tmp_path) -> None:
    path = tmp_path / "sub" / "kvrrp.pid"
    path.parent.mkdir()
    path.write_text("not a pid\n")
    with PidFile(str(path)):
        assert path.read_text() == f"{os.getpid()}\n"
    assert not path.exists()
