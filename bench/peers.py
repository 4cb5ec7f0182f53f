"""Peer gateways for the benchmarks, each in its own venv under ``bench/.peers/`` (gitignored).

    .venv/bin/python bench/peers.py            # make (or check) LiteLLM's venv; = make bench-peers

LiteLLM's proxy is installed the way its docs say, ``pip install 'litellm[proxy]==V'`` into
``bench/.peers/litellm`` with this machine's ``python3``, showing pip's progress. Never run
by ``make test``: ``bench/mixed.py`` calls :func:`ensure_litellm` when a run includes the
LiteLLM column.

If the registry lacks one of the exact pins of the ``proxy`` extra (litellm 1.109.1 pins
``litellm-proxy-extras==0.4.113``, which the index this was first run against did not
have), LiteLLM itself is still installed at ``V``, the extra's other requirements as
declared, and that one package at the newest release below its pin, without its
dependencies; what was installed is recorded in ``versions.json`` next to the venv and in
every result. ``litellm-proxy-extras`` holds the proxy's database migrations, which a proxy
without a database (as benchmarked) does not load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PEERS = BENCH / ".peers"
LITELLM_VERSION = "1.109.1"
INSTALL_TIMEOUT_S = 1800.0

_EXTRA_REQS = """
import importlib.metadata as m, json
from packaging.requirements import Requirement
out = []
for text in m.requires("litellm") or []:
    req = Requirement(text)
    if req.marker and req.marker.evaluate({"extra": "proxy"}) \\
            and not req.marker.evaluate({"extra": ""}):
        req.marker = None
        out.append(str(req))
print(json.dumps(out))
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def litellm_venv() -> Path:
    return PEERS / "litellm"


def litellm_bin() -> Path:
    return litellm_venv() / "bin" / "litellm"


def installed_versions() -> dict[str, Any]:
    path = litellm_venv() / "versions.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def ensure_litellm(version: str = LITELLM_VERSION) -> dict[str, Any]:
    """LiteLLM's proxy at ``version`` in its own venv (made when missing); what is installed."""
    known = installed_versions()
    if litellm_bin().exists() and known.get("litellm") == version:
        return known
    venv = litellm_venv()
    if not (venv / "bin" / "python").exists():
        log(f"making the LiteLLM venv {venv} (python3 -m venv)")
        _run(["python3", "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    log(f"installing litellm[proxy]=={version} (a few minutes the first time)")
    notes = []
    if _run([*pip, "--progress-bar", "on", f"litellm[proxy]=={version}"], check=False) != 0:
        notes = _install_around_missing_pin(pip, version)
    versions = _versions(venv, ["litellm", "litellm-proxy-extras", "litellm-enterprise"])
    versions["notes"] = notes
    (venv / "versions.json").write_text(json.dumps(versions, indent=1))
    log(f"LiteLLM venv ready: {versions}")
    return versions


def _install_around_missing_pin(pip: list[str], version: str) -> list[str]:
    """litellm==version, the proxy extra's requirements, any pin the index lacks at the
    newest release below it (``--no-deps``); the notes say what was substituted."""
    log("pip could not resolve the proxy extra as pinned; installing it piece by piece")
    _run([*pip, f"litellm=={version}"])
    python = str(litellm_venv() / "bin" / "python")
    reqs = json.loads(
        subprocess.run(
            [python, "-c", _EXTRA_REQS], capture_output=True, check=True, text=True
        ).stdout
    )
    pinned = [r for r in reqs if "==" in r]
    loose = [r for r in reqs if "==" not in r]
    _run([*pip, "--progress-bar", "on", *loose])
    notes = []
    for req in pinned:
        if _run([*pip, req], check=False) == 0:
            continue
        name, wanted = req.split("==", 1)
        nearest = _nearest_below(python, name, wanted)
        _run([*pip, "--no-deps", f"{name}=={nearest}"])
        notes.append(f"{name}=={wanted} not on the index; installed {nearest} (--no-deps)")
        log(f"  {notes[-1]}")
    return notes


def _nearest_below(python: str, name: str, wanted: str) -> str:
    from packaging.version import Version

    listing = subprocess.run(
        [python, "-m", "pip", "index", "versions", name], capture_output=True, text=True
    ).stdout
    line = next((ln for ln in listing.splitlines() if "Available versions:" in ln), "")
    versions = [Version(v.strip()) for v in line.split(":", 1)[-1].split(",") if v.strip()]
    below = [v for v in versions if v <= Version(wanted)]
    if not below:
        raise RuntimeError(f"no release of {name} at or below {wanted} on the index")
    return str(max(below))


def _versions(venv: Path, names: list[str]) -> dict[str, Any]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *names],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def _run(argv: list[str], check: bool = True) -> int:
    done = subprocess.run(argv, timeout=INSTALL_TIMEOUT_S, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} ... failed with {done.returncode}")
    return done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm", default=LITELLM_VERSION, help="LiteLLM version")
    args = parser.parse_args()
    print(json.dumps(ensure_litellm(args.litellm)))


if __name__ == "__main__":
    sys.exit(main())
