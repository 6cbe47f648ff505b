"""libnftables (the library behind `nft`, Debian's libnftables1) through ctypes: no shell, no
nft process per change. Commands are nft's own language, built only from validated addresses,
interface names and integers; the library parses and sends them as one netlink batch.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_JSON = 1 << 4


class NftError(OSError):
    """libnftables refused a command; the text is nft's own error message."""


class Nft:
    """One libnftables context (a netlink socket in the namespace it was created in)."""

    _lib = None

    def __init__(self) -> None:
        lib = self._load()
        self._ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not self._ctx:
            raise NftError(0, "libnftables: cannot create a context")
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        self._lock = threading.Lock()

    @classmethod
    def _load(cls):  # noqa: ANN206 - the ctypes library
        if cls._lib is None:
            name = ctypes.util.find_library("nftables") or "libnftables.so.1"
            try:
                lib = ctypes.CDLL(name)
            except OSError as exc:
                raise NftError(0, f"libnftables is not installed ({exc}); install Debian's libnftables1 "
                               "(it comes with nftables)") from None
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            cls._lib = lib
        return cls._lib

    def run(self, commands: str, json_output: bool = False) -> str:
        """Run nft commands (one batch, all or nothing); the output text, or NftError."""
        lib = self._lib
        with self._lock:
            lib.nft_ctx_output_set_flags(self._ctx, NFT_CTX_OUTPUT_JSON if json_output else 0)
            rc = lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
            out = (lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
            err = (lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise NftError(rc, err.strip() or f"nft command failed: {commands.strip()[:200]}")
        return out

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None
