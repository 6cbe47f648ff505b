"""Kernel and initramfs for the IPVS VM: pick the kernel, extract an uncompressed vmlinux,
build a tiny initramfs (busybox + the modules needed to reach the shared host root), cache both.

Stdlib only: it runs on the host before anything of kvrrp is importable.
"""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import lzma
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
INIT_SCRIPT = HERE / "init"
MODPROBE_HELPER = HERE / "modprobe"

# What the guest needs before it can see the host's root: PCI virtio transport, 9p over virtio
# (the shared root and the shared working directory), overlayfs (a writable tmpfs layer on the
# read-only root), virtio-serial (stdout/stderr/status back to the runner), virtio-rng (so
# getrandom() never blocks Python's start early in boot).
BOOT_MODULES = ("virtio_pci", "virtio_console", "virtio-rng", "9pnet_virtio", "9p", "overlay")

# Loaded from the chroot once the root is up, when the kernel has them.
IPVS_MODULES = (
    "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc", "ip_vs_lblcr",
    "ip_vs_dh", "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_mh", "ip_vs_fo", "ip_vs_ovf",
    "ip_vs_twos",
)

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


class ArtifactError(Exception):
    """The kernel, its modules or busybox are missing or unusable; the message says what."""


@dataclass(frozen=True)
class Kernel:
    version: str
    image: Path          # /boot/vmlinuz-<version>
    modules: Path        # /lib/modules/<version>


@dataclass(frozen=True)
class Artifacts:
    kernel: Kernel
    boot_image: Path     # uncompressed vmlinux when extraction worked, else the vmlinuz
    initramfs: Path
    ipvs_modules: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# kernel selection


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.replace("-", ".").split("."))


def find_kernel(version: str | None = None, boot: Path = Path("/boot"),
                modules_root: Path = Path("/lib/modules")) -> Kernel:
    """The requested kernel, else the newest one that has both an image and ip_vs modules."""
    if version:
        candidates = [version]
    else:
        candidates = sorted((p.name for p in modules_root.glob("*") if p.is_dir()),
                            key=_version_key, reverse=True)
    problems = []
    for ver in candidates:
        image = boot / f"vmlinuz-{ver}"
        mods = modules_root / ver
        if not image.is_file():
            problems.append(f"{ver}: no {image}")
            continue
        if not (mods / "modules.dep").is_file():
            problems.append(f"{ver}: no {mods}/modules.dep")
            continue
        if "ip_vs" not in _module_index(mods):
            problems.append(f"{ver}: no ip_vs module")
            continue
        return Kernel(ver, image, mods)
    detail = "; ".join(problems) or f"nothing under {modules_root}"
    raise ArtifactError(
        "no kernel with IPVS modules found (" + detail + "). Install Debian's kernel package: "
        "apt-get install --no-install-recommends linux-image-amd64 (scripts/setup does)")


# ---------------------------------------------------------------------------------------------
# modules


def _module_index(modules: Path) -> dict[str, tuple[str, list[str]]]:
    """module name -> (path relative to modules dir, [dependency paths]) from modules.dep."""
    index: dict[str, tuple[str, list[str]]] = {}
    with open(modules / "modules.dep", encoding="utf-8") as f:
        for line in f:
            if ":" not in line:
                continue
            path, deps = line.split(":", 1)
            index[_module_name(path)] = (path, deps.split())
    return index


def _module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    base = base.split(".ko", 1)[0]
    return base.replace("-", "_")


def _builtin_modules(modules: Path) -> set[str]:
    try:
        with open(modules / "modules.builtin", encoding="utf-8") as f:
            return {_module_name(line.strip()) for line in f if line.strip()}
    except FileNotFoundError:
        return set()


def resolve_load_order(modules: Path, names: tuple[str, ...]) -> list[str]:
    """Module paths (relative) in insmod order, dependencies first, each once. Built-in
    modules need nothing; a module that is neither built in nor present is an error."""
    index = _module_index(modules)
    by_path = {path: name for name, (path, _) in index.items()}
    builtin = _builtin_modules(modules)
    order: list[str] = []
    seen: set[str] = set()

    def visit(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        for dep in index[by_path[path]][1]:
            visit(dep)
        order.append(path)

    for raw in names:
        name = raw.replace("-", "_")
        if name in index:
            visit(index[name][0])
        elif name not in builtin:
            raise ArtifactError(f"kernel module {raw} is neither built in nor in {modules}")
    return order


def _module_bytes(path: Path) -> bytes:
    """Module contents, decompressed: busybox insmod wants a plain ELF."""
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko.zst"):
        raise ArtifactError(f"{path}: zstd-compressed modules are not supported by this builder")
    return data


# ---------------------------------------------------------------------------------------------
# vmlinux extraction (what the kernel's scripts/extract-vmlinux does: find a compressed stream
# inside the bzImage and keep the first one that decompresses to an ELF)

_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b\x08"


def extract_vmlinux(image: bytes) -> bytes | None:
    for magic, decompress in ((_XZ_MAGIC, _unxz), (_GZIP_MAGIC, _gunzip)):
        start = image.find(magic)
        while start != -1:
            out = decompress(image[start:])
            if out is not None and out[:4] == b"\x7fELF":
                return out
            start = image.find(magic, start + 1)
    return None


def _unxz(data: bytes) -> bytes | None:
    try:
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    except lzma.LZMAError:
        return None


def _gunzip(data: bytes) -> bytes | None:
    import zlib
    try:
        return zlib.decompressobj(wbits=31).decompress(data)
    except zlib.error:
        return None


# ---------------------------------------------------------------------------------------------
# cpio (newc), written directly so the build needs no external tool and is deterministic


class Cpio:
    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % v for v in fields)
        self._chunks.append(header + encoded + b"\0" * (-(len(header) + len(encoded)) % 4))
        self._chunks.append(data + b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        blob = b"".join(self._chunks)
        return blob + b"\0" * (-len(blob) % 512)


def _is_static_elf64(path: Path) -> bool:
    """A 64-bit little-endian ELF without a PT_INTERP program header (no dynamic loader)."""
    import struct
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return False
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def _busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file() and _is_static_elf64(path):
            return path
    raise ArtifactError("no static busybox found (apt-get install busybox-static; scripts/setup does)")


def build_initramfs(kernel: Kernel) -> tuple[bytes, tuple[str, ...]]:
    boot_paths = resolve_load_order(kernel.modules, BOOT_MODULES)
    index = _module_index(kernel.modules)
    ipvs = tuple(m for m in IPVS_MODULES if m in index)

    cpio = Cpio()
    for d in ("bin", "sbin", "dev", "proc", "sys", "etc", "etc/kvrrp-vm", "lib", "lib/modules",
              "lower", "ovl", "newroot", "tmp", "run"):
        cpio.directory(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3)
    cpio.file("bin/busybox", _busybox().read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("init", INIT_SCRIPT.read_bytes(), 0o755)
    cpio.file("sbin/kvrrp-modprobe", MODPROBE_HELPER.read_bytes(), 0o755)
    names = []
    for rel in boot_paths:
        name = _module_name(rel) + ".ko"
        cpio.file(f"lib/modules/{name}", _module_bytes(kernel.modules / rel))
        names.append(name)
    cpio.file("etc/kvrrp-vm/boot-modules", ("\n".join(names) + "\n").encode())
    cpio.file("etc/kvrrp-vm/ipvs-modules", (" ".join(ipvs) + "\n").encode())
    cpio.file("etc/kvrrp-vm/kernel-version", (kernel.version + "\n").encode())
    return cpio.finish(), ipvs


# ---------------------------------------------------------------------------------------------
# cache


def default_cache_dir() -> Path:
    if os.environ.get("KVRRP_VM_CACHE"):
        return Path(os.environ["KVRRP_VM_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "kvrrp-vm"
    if os.geteuid() == 0:
        return Path("/var/cache/kvrrp-vm")
    return Path.home() / ".cache" / "kvrrp-vm"


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()[:16]


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def prepare(version: str | None = None, cache: Path | None = None) -> Artifacts:
    """Cached kernel + initramfs for `version` (default: newest with IPVS). Rebuilt when the
    kernel image, busybox, the init script, the modprobe helper or this builder change."""
    kernel = find_kernel(version)
    cache = cache or default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtifactError(f"cannot create cache dir {cache}: {e} (set KVRRP_VM_CACHE)") from e

    image = kernel.image.read_bytes()
    image_key = _sha(image)
    initramfs_key = _sha(kernel.version.encode(), image, _busybox().read_bytes(),
                         INIT_SCRIPT.read_bytes(), MODPROBE_HELPER.read_bytes(),
                         Path(__file__).read_bytes(),
                         (kernel.modules / "modules.dep").read_bytes())
    vmlinux = cache / f"vmlinux-{kernel.version}-{image_key}"
    no_elf = cache / f"vmlinux-{kernel.version}-{image_key}.none"
    initramfs = cache / f"initramfs-{kernel.version}-{initramfs_key}.cpio"
    ipvs_list = cache / f"initramfs-{kernel.version}-{initramfs_key}.ipvs"

    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # concurrent runners build once, then share
        if not vmlinux.exists() and not no_elf.exists():
            elf = extract_vmlinux(image)
            if elf is None:
                _write_atomic(no_elf, b"")   # remember: boot the compressed image instead
            else:
                _write_atomic(vmlinux, elf)
            _prune(cache, f"vmlinux-{kernel.version}-", {vmlinux.name, no_elf.name})
        if not initramfs.exists() or not ipvs_list.exists():
            blob, ipvs = build_initramfs(kernel)
            _write_atomic(ipvs_list, (" ".join(ipvs) + "\n").encode())
            _write_atomic(initramfs, blob)
            _prune(cache, f"initramfs-{kernel.version}-", {initramfs.name, ipvs_list.name})
    boot_image = vmlinux if vmlinux.exists() else kernel.image
    return Artifacts(kernel, boot_image, initramfs, tuple(ipvs_list.read_text().split()))


def _prune(cache: Path, prefix: str, keep: set[str]) -> None:
    """Drop stale builds for the same kernel version (older init scripts, older images).
    Recent ones stay: another checkout may be about to boot them."""
    import time
    for old in cache.glob(prefix + "*"):
        if old.name in keep:
            continue
        try:
            if time.time() - old.stat().st_mtime > 3600:
                old.unlink()
        except OSError:
            pass
