"""The control socket and `kvrrpctl`: a Unix socket (mode 0600) next to the pid file, one JSON
request and one JSON answer per line (protocol.py), served by the VRRP daemon and by the
checker process (server.py), spoken by kvrrpctl (cli.py, client.py)."""
