"""keepalived.conf configuration layer: lexer, keyword tables, typed model, validation."""
from __future__ import annotations

from kvrrp.config.model import *  # noqa: F401,F403
