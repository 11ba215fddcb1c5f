"""The wheel works on its own: built from the tree, installed into a fresh virtualenv outside the
checkout, its `crm2` finds the shipped rule files and mappings and runs the demo end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv (from the test extra) is needed to install the wheel's dependencies quickly")
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    # Build from a copy of the checkout's files: setuptools keeps a build/ folder in the source
    # tree, and a stale one would put modules into the wheel that the tree no longer has.
    src = work / "src"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        origin, copy = ROOT / rel, src / rel
        if not origin.exists() and not origin.is_symlink():
            continue  # deleted in the work tree, not yet committed
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, copy, follow_symlinks=False)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(src)],
                 cwd=work, env=env)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (work / "dist").glob("crm2-*.whl")
    base_python = getattr(sys, "_base_executable", sys.executable)
    made = _run([uv, "venv", "-q", "-p", base_python, str(work / "venv")], cwd=work, env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    python = work / "venv" / "bin" / "python"
    got = _run([uv, "pip", "install", "-q", "--python", str(python), str(wheel)], cwd=work, env=env)
    assert got.returncode == 0, got.stderr[-2000:]
    return work


def test_wheel_holds_the_shipped_files(installed: Path) -> None:
    (wheel,) = (installed / "dist").glob("crm2-*.whl")
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("config/match.yml", "config/checks.yml", "config/scoring.yml", "config/retention.yml",
                    "mappings/salesforce.yml", "mappings/finance.yml", "mappings/sales.yml",
                    "mappings/writeback.yml"):
        assert f"sync/defaults/{shipped}" in names, shipped
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_installed_crm2_validates_and_runs_the_demo_outside_the_checkout(installed: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    crm2 = str(installed / "venv" / "bin" / "crm2")
    here = installed / "elsewhere"
    here.mkdir()
    # No rule files named: the shipped defaults must be found inside the installed package.
    (here / "pipeline.yml").write_text("version: 1\nstore: {url: sqlite:///crm2.sqlite}\nextractors: []\n")
    checked = _run([crm2, "validate", "--config", "pipeline.yml"], cwd=here, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    demo = _run([crm2, "demo", "--customers", "200", "--workdir", "demo"], cwd=here, env=env)
    # 3 = finished with records quarantined on purpose (the demo's data is dirty by design)
    assert demo.returncode in (0, 3), demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "writeback" in demo.stdout
    imported = _run([str(installed / "venv" / "bin" / "python"), "-c", "import sync; print(sync.__file__)"],
                    cwd=here, env=env)
    assert str(installed / "venv") in imported.stdout, "crm2 was not imported from the installed wheel"
