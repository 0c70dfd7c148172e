"""Debian packages for the lab: resolve the current kernel, download with apt, extract with dpkg-deb.

Nothing is installed on the machine: packages are unpacked into ``<cache>/trees/<release>/``.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from crashhub.errors import BootFailed, CheckUnavailable
from crashhub.readiness import point_headers_at, unpack_deb
from lab.config import KernelFamily, cache_dir

# The lab cannot run here (a tool or a package is missing): tests skip on it. The lab runs here but a
# crash run went wrong (no panic, no capture): a real failure, not a skip. crashhub's kernel check
# raises the same two from the machinery it shares with the lab.
LabUnavailable = CheckUnavailable
RunFailed = BootFailed


@dataclass(frozen=True)
class Kernel:
    """One resolved and extracted kernel."""

    key: str
    release: str  # uname -r, e.g. 6.1.0-56-cloud-amd64
    package: str  # linux-image-<release>
    version: str  # Debian version of the package, e.g. 6.1.192-2
    tree: Path  # extracted image + headers + kbuild
    vmlinuz: Path
    vmlinux: Path  # from the -dbg package
    system_map: Path
    headers: Path  # usr/src/linux-headers-<release> inside tree

    def modules_dir(self) -> Path:
        return self.tree / "lib" / "modules" / self.release


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock file, so two pytest sessions do not build the same thing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise LabUnavailable(f"{cmd[0]} is not installed") from exc
    if proc.returncode != 0:
        raise LabUnavailable(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return proc.stdout


def _host_mirror() -> str:
    """The archive URI of the machine's Debian sources, to reach another suite with it."""
    text = ""
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if f.is_file() and f.suffix in ("", ".list", ".sources"):
            text += f.read_text(errors="replace") + "\n\n"
    main = None
    # deb822 stanzas (URIs:/Suites:) and one-line "deb URI SUITE ..." entries.
    for stanza in re.split(r"\n\s*\n", text):
        uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
        suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
        if uris and suites:
            names = suites.group(1).split()
            if names and not any(n.endswith("-security") for n in names):
                main = main or uris.group(1)
    for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
        if not m.group(2).endswith("-security"):
            main = main or m.group(1)
    if main is None:
        raise LabUnavailable("no Debian source in /etc/apt to reach another suite with")
    return main


def apt_options(fam: KernelFamily) -> list[str]:
    """apt -o options for the family: none, or a private state dir for a suite the machine lacks."""
    if fam.private_suite is None:
        return []
    d = cache_dir() / f"apt-{fam.private_suite}"
    opts = [f"-o=Dir::Etc::SourceList={d / 'sources.list'}", "-o=Dir::Etc::SourceParts=/nonexistent",
            f"-o=Dir::State::Lists={d / 'lists'}", f"-o=Dir::Cache={d / 'cache'}",
            "-o=Dir::State::Status=/dev/null"]
    with locked(cache_dir() / "locks" / f"apt-{fam.private_suite}.lock"):
        if not any((d / "lists").glob("*Packages*")):
            main = _host_mirror()
            for sub in ("lists/partial", "cache/archives/partial"):
                (d / sub).mkdir(parents=True, exist_ok=True)
            # Only the suite itself, not its -security updates: their -dbg packages were not
            # reachable here (404), while the point release's kernel comes with its -dbg.
            (d / "sources.list").write_text(f"deb {main} {fam.private_suite} main\n")
            _run(["apt-get", *opts, "update"])
    return opts


def _depends(package: str, opts: list[str]) -> list[str]:
    out = _run(["apt-cache", *opts, "depends", "--no-recommends", "--no-suggests", package])
    return [m.group(1) for m in re.finditer(r"^\s*\|?Depends: (\S+)$", out, re.M)]


def _candidate(package: str, opts: list[str]) -> str:
    out = _run(["apt-cache", *opts, "policy", package])
    m = re.search(r"Candidate: (\S+)", out)
    if not m or m.group(1) == "(none)":
        raise LabUnavailable(f"apt offers no {package} (run apt-get update?)")
    return m.group(1)


def known(fam: KernelFamily, release: str) -> None:
    """Fail (not skip) when apt moved the family to a kernel line the lab and the tests do not know."""
    if not re.fullmatch(fam.release_pattern, release):
        raise RunFailed(
            f"kernel family {fam.key} now resolves to {release}, which is not a {fam.key} kernel the lab "
            f"knows (release_pattern {fam.release_pattern!r}): update lab/config.py FAMILIES"
        )


def resolve(fam: KernelFamily) -> tuple[str, str]:
    """(release, version) of the image package the family's meta-package currently points at."""
    pinned = cache_dir() / "kernels" / f"{fam.key}.json"
    if pinned.exists():
        # Once a family is resolved, keep it: cached runs stay valid when apt moves on.
        # Delete the file to move to the newest kernel.
        data = json.loads(pinned.read_text())
        known(fam, str(data["release"]))
        return str(data["release"]), str(data["version"])
    opts = apt_options(fam)
    images = [d for d in _depends(fam.image_meta, opts) if d.startswith("linux-image-")]
    if not images:
        raise LabUnavailable(f"{fam.image_meta} names no linux-image package")
    release = images[0].removeprefix("linux-image-")
    known(fam, release)
    version = _candidate(images[0], opts)
    pinned.parent.mkdir(parents=True, exist_ok=True)
    pinned.write_text(json.dumps({"release": release, "version": version}) + "\n")
    return release, version


def _download(packages: list[str], dest: Path, opts: list[str]) -> dict[str, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    missing = []
    for p in packages:
        hits = sorted(dest.glob(f"{p}_*.deb"))
        if hits:
            found[p] = hits[-1]
        else:
            missing.append(p)
    if missing:
        if shutil.which("apt-get") is None:
            raise LabUnavailable("apt-get is not available to download " + " ".join(missing))
        _run(["apt-get", *opts, "download", *missing], cwd=dest)
        for p in missing:
            hits = sorted(dest.glob(f"{p}_*.deb"))
            if not hits:
                raise LabUnavailable(f"apt-get download {p} left no .deb")
            found[p] = hits[-1]
    return found


def fetch_kernel(fam: KernelFamily) -> Kernel:
    """Download and extract the family's current kernel image, headers, kbuild and -dbg vmlinux."""
    release, version = resolve(fam)
    root = cache_dir()
    tree = root / "trees" / release
    done = tree / ".lab-extracted"
    with locked(root / "locks" / f"kernel-{release}.lock"):
        if not done.exists():
            image = f"linux-image-{release}"
            headers = f"linux-headers-{release}"
            opts = apt_options(fam)
            deps = _depends(headers, opts)
            common = [d for d in deps if d.startswith("linux-headers-") and d.endswith("-common")]
            kbuild = [d for d in deps if d.startswith("linux-kbuild-")]
            debs = _download([image, headers, *common, *kbuild, f"{image}-dbg"], root / "debs", opts)
            if tree.exists():
                shutil.rmtree(tree)
            tree.mkdir(parents=True)
            for name, deb in debs.items():
                if name.endswith("-dbg"):
                    # Only the vmlinux: the rest of the -dbg package (module debug files) is not needed.
                    member = f"./usr/lib/debug/boot/vmlinux-{release}"
                    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
                    subprocess.run(["tar", "-x", "-C", str(tree), member], stdin=tar.stdout, check=True)
                    if tar.stdout is not None:
                        tar.stdout.close()
                    if tar.wait() != 0:
                        raise LabUnavailable(f"dpkg-deb --fsys-tarfile {deb} failed")
                else:
                    unpack_deb(deb, tree)  # as crashhub's kernel check unpacks a fleet's debs
            point_headers_at(tree, release)
            done.write_text(json.dumps({"release": release, "version": version}) + "\n")
    kernel = Kernel(
        key=fam.key,
        release=release,
        package=f"linux-image-{release}",
        version=version,
        tree=tree,
        vmlinuz=tree / "boot" / f"vmlinuz-{release}",
        vmlinux=tree / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{release}",
        system_map=tree / "boot" / f"System.map-{release}",
        headers=tree / "usr" / "src" / f"linux-headers-{release}",
    )
    for p in (kernel.vmlinuz, kernel.vmlinux, kernel.system_map):
        if not p.exists():
            raise LabUnavailable(f"{p} missing after extracting {kernel.package}")
    return kernel


def kernel_json(k: Kernel) -> dict[str, str]:
    return {key: str(v) for key, v in asdict(k).items()}


def package_debs(k: Kernel) -> tuple[Path, list[Path]]:
    """The kernel's image deb and its headers debs (headers, -common, kbuild) as apt downloaded them:
    the packages a fleet installs, for ``crashhub kernel check``."""
    debs = cache_dir() / "debs"

    def one(name: str) -> Path:
        hits = sorted(debs.glob(f"{name}_*.deb"))
        if not hits:
            raise LabUnavailable(f"no {name}_*.deb in {debs} (run the lab on this kernel first)")
        return hits[-1]

    headers = one(f"linux-headers-{k.release}")
    fields = _run(["dpkg-deb", "-f", str(headers), "Depends"])
    names = [d.strip().split()[0] for d in fields.split(",") if d.strip()]
    extra = [one(n) for n in names if n.startswith(("linux-headers-", "linux-kbuild-"))]
    return one(k.package), [headers, *extra]
