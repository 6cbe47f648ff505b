# Sourced by scripts/setup, scripts/test and scripts/demo: which Python runs kvrrp.
#
# A Python that refuses `pip install` (PEP 668: Debian 12's /usr/bin/python3 is "externally
# managed") gets a virtual environment, /opt/kvrrp unless KVRRP_VENV names another; any other
# Python (pyenv, a venv already active) is used as it is. PYTHON=... overrides both.
kvrrp_externally_managed() {
  "$1" -c 'import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)' 2>/dev/null
}

if [ -n "${PYTHON:-}" ]; then
  KVRRP_PY=$PYTHON
elif [ -n "${KVRRP_VENV:-}" ]; then
  KVRRP_PY=$KVRRP_VENV/bin/python3
elif kvrrp_externally_managed python3 && ! [ -n "${VIRTUAL_ENV:-}" ]; then
  KVRRP_VENV=/opt/kvrrp
  KVRRP_PY=$KVRRP_VENV/bin/python3
else
  KVRRP_PY=python3
fi
export KVRRP_PY
