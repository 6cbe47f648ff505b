"""BFD (RFC 5880 / RFC 5881 single-hop, asynchronous mode): keepalived's `bfd_instance`.

* ``packet``  - control packet encode / decode, every drop a named reason (pure);
* ``session`` - one session's RFC 5880 state machine and timers (pure: time is an argument);
* ``service`` - the asyncio runtime: all sessions of a process on one UDP 3784 socket per
  family (``kvrrp.io.bfd_sockets``), state changes to listeners (track_bfd, BFD_CHECK).
"""
