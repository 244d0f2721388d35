"""The built wheel installs one namespace, `notecheck.*`: nothing named model, training or serving."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    (built,) = out.glob("notecheck-*.whl")
    return built


def test_the_wheel_holds_only_the_notecheck_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"notecheck", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    # every package of the owner's folders is in the wheel (pyproject lists them explicitly)
    for top in ("model", "training", "serving"):
        for init in (ROOT / top).rglob("__init__.py"):
            assert f"notecheck/{init.relative_to(ROOT).as_posix()}" in names, init
    assert "notecheck/training/configs/default.yaml" in names  # the default run config travels with the code
    assert not any(n.startswith(("notecheck/data/", "notecheck/tests/")) for n in names)


def test_a_fresh_venv_imports_notecheck_and_no_top_level_model(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    installed = {p.name for p in site.iterdir()}
    assert "notecheck" in installed and not {"model", "training", "serving"} & installed
    # a user's own model.py next to their script must not shadow ours
    (tmp_path / "model.py").write_text("raise SystemExit('the user module was imported')\n")
    script = "import notecheck.model.schema as s, notecheck.model.disclosure as d; print(s.__file__)"
    done = subprocess.run([str(python), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(site / "notecheck" / "model"))
    assert (venv / "bin" / "notecheck").is_file()
