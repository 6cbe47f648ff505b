"""The engine's MASTER_RX_LOWER_PRI event reaching kvrrp.notify: keepalived's
notify_master_rx_lower_pri script and the FIFO line, end to end on the fake-clock LAN."""
from __future__ import annotations

import os

from kvrrp import notify
from kvrrp.config.loader import parse_text
from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings
from vrrp_lan import FakeLan

CONF = """
global_defs {
    notify_fifo %(fifo)s
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 200
    advert_int 1
    notify_master_rx_lower_pri %(script)s
    virtual_ipaddress {
        198.18.0.100/24
    }
}
"""


async def test_master_rx_lower_pri_runs_the_script_and_writes_the_fifo(tmp_path):
    record = tmp_path / "record"
    script = tmp_path / "rx_lower.sh"
    script.write_text(f'#!/bin/sh\necho "rx_lower $#" >> {record}\n')
    os.chmod(script, 0o755)
    os.chmod(tmp_path, 0o755)
    fifo = tmp_path / "notify.fifo"
    res = parse_text(CONF % {"fifo": fifo, "script": script})
    assert res.ok, [str(d) for d in res.errors]

    lan = FakeLan()
    master = lan.add_node("m", res.config, v4="198.18.0.1", start=False)
    notifier = notify.attach(master.engine, res.config)
    await notifier.start()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        master.engine.start()
        lan.run_for(5)
        assert lan.masters() == ["m"]
        # a node that cannot hear the master claims the VIP with priority 100: the master answers
        low = InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=100,
                               vips=(AddressSpec("198.18.0.100", 24, "eth0", 4),))
        lan.add_node("b", EngineSettings(instances=(low,)), v4="198.18.0.2")
        lan.deaf = {"b"}
        lan.run_for(5)
        answered = master.engine.instance("VI_1").stats.advert_rcvd
        assert answered >= 1
        await notifier.stop(timeout=10)
        lines = os.read(reader, 65536).decode().splitlines()
    finally:
        os.close(reader)
    assert lines[:2] == ['INSTANCE "VI_1" BACKUP 200', 'INSTANCE "VI_1" MASTER 200']
    assert lines[2:] == ['INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200'] * answered
    # keepalived runs the script without arguments, once per answered advert
    assert record.read_text().splitlines() == ["rx_lower 0"] * answered
    assert [r.argv for r in notifier.history] == [(str(script),)] * answered
