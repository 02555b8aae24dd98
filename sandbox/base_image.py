"""A stand-in for AWS's Lambda base image `public.ecr.aws/lambda/python:3.13-<arch>`, for `sam local` on a
machine that cannot pull it (`make sam-local-check` builds it then, and says so). Needs root, debootstrap
and Docker.

What `sam local` needs of the image: a root file system, a python3.13 in /var/lang, the runtime interface
client (`awslambdaric`) and boto3 in /var/runtime, and an executable /var/runtime/bootstrap, which the
emulator SAM adds as the entry point finds by itself. The python3.13 is the one running this module.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAND_IN_LABEL = "owner-webhook.stand-in"
# What python3.13's own extension modules link to, beyond a minimal Debian.
LIBRARIES = "libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libexpat1,libuuid1,libreadline8,libncursesw6"
BOOTSTRAP = """#!/bin/sh
# As AWS's image does: the runtime interface client hosts the handler the emulator names.
export PYTHONPATH=/var/runtime
exec /var/lang/bin/python3.13 -m awslambdaric "${_HANDLER:-$1}"
"""


def architecture() -> str:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def tag(arch: str | None = None) -> str:
    return f"public.ecr.aws/lambda/python:3.13-{arch or architecture()}"


def build(image: str) -> None:
    """Build the stand-in for this machine's architecture and import it into Docker as `image`."""
    if shutil.which("debootstrap") is None:
        raise SystemExit("building the stand-in needs debootstrap (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="lambda-python-", dir="/var/tmp") as work:
        root = Path(work) / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={LIBRARIES}", "bookworm", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        python = Path(sys.base_prefix)
        shutil.copytree(
            python,
            root / "var" / "lang",
            symlinks=True,
            ignore=shutil.ignore_patterns("test", "idlelib", "tkinter", "turtledemo", "site-packages", "include"),
        )
        (root / "etc" / "ld.so.conf.d" / "var-lang.conf").write_text("/var/lang/lib\n")
        subprocess.run(["chroot", str(root), "ldconfig"], check=True)
        runtime = root / "var" / "runtime"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--target", str(runtime), "-r", str(ROOT / "requirements-runtime.txt")],
            check=True,
        )  # fmt: skip
        (runtime / "bootstrap").write_text(BOOTSTRAP)
        (runtime / "bootstrap").chmod(0o755)
        (root / "var" / "task").mkdir()
        changes = [
            "ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
            "ENV LANG=C.UTF-8",
            "ENV LAMBDA_TASK_ROOT=/var/task",
            "ENV LAMBDA_RUNTIME_DIR=/var/runtime",
            "WORKDIR /var/task",
            f"LABEL {STAND_IN_LABEL}=true",
            'ENTRYPOINT ["/var/runtime/bootstrap"]',
        ]
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", *(arg for change in changes for arg in ("--change", change)), "-", image],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            raise SystemExit("tar of the stand-in's root file system failed")


if __name__ == "__main__":
    build(tag())
    print(f"built {tag()}, a stand-in for AWS's image")
