"""Installing on an intranet server (issue 15, SPEC §12): the offline bundle built, checked
and installed with the package index disabled, then `dutybot check` run from it; and the
systemd units hardened as the admin guide says."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import EXAMPLE, ROOT

DEPLOY = ROOT / "deploy"
SOURCES = ("bot", "handlers", "schedules", "storage", "deploy", "docs", "pyproject.toml",
           "README.md", "config.example.toml")


def _offline_env() -> dict[str, str]:
    """No index and no local wheel folder to fall back on: only the bundle."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k != "VIRTUAL_ENV"}
    return {**env, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/build-bundle run on a copy of the project (builds leave nothing in the tree)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("bundle") / "dutybot-bundle"
    built = subprocess.run([str(source / "deploy" / "build-bundle"), "--out", str(out)],
                           env={**os.environ, "PYTHON": sys.executable}, cwd=source,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "已生成离线安装包" in built.stdout
    return out


def test_the_bundle_installs_offline_and_runs_check(bundle: Path, tmp_path: Path) -> None:
    wheels = {p.name for p in bundle.glob("*.whl")}
    listed = {line.split()[1] for line in (bundle / "SHA256SUMS").read_text().splitlines()}
    assert wheels <= listed and {"install-offline", "dutybot.service"} <= listed
    assert any(w.startswith("dutybot-") for w in wheels)
    assert any(w.startswith("wechatpy-") for w in wheels)  # the dependencies came too
    venv = tmp_path / "venv"
    installed = subprocess.run([str(bundle / "install-offline"), "--venv", str(venv)],
                               env={**_offline_env(), "PYTHON": sys.executable},
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert "已安装：dutybot" in installed.stdout
    config = tmp_path / "config.toml"
    shutil.copy(EXAMPLE, config)
    checked = subprocess.run([str(venv / "bin" / "dutybot"), "check", "--config", str(config)],
                             env=_offline_env(), cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("配置有效")


def test_a_damaged_bundle_is_refused_before_anything_is_installed(bundle: Path,
                                                                  tmp_path: Path) -> None:
    damaged = tmp_path / "bundle"
    shutil.copytree(bundle, damaged)
    wheel = next(damaged.glob("tinydb-*.whl"))
    raw = bytearray(wheel.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one byte flipped in the middle
    wheel.write_bytes(bytes(raw))
    venv = tmp_path / "venv"
    result = subprocess.run([str(damaged / "install-offline"), "--venv", str(venv)],
                            env={**_offline_env(), "PYTHON": sys.executable},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "与 SHA256SUMS 不符" in result.stderr
    assert not venv.exists()


def _unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser["Service"]


def test_the_service_runs_hardened_with_the_store_its_only_writable_path() -> None:
    service = _unit("dutybot.service")
    assert service["User"] == "dutybot" and service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "dutybot" and service["LogsDirectory"] == "dutybot"
    assert "ReadWritePaths" not in service  # nothing writable beyond those two
    assert service["NoNewPrivileges"] == "true" and service["CapabilityBoundingSet"] == ""
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    assert service["EnvironmentFile"] == "/etc/dutybot/dutybot.env"
    assert service["ExecStart"].endswith("dutybot run --config /etc/dutybot/config.toml")
    backup = _unit("dutybot-backup.service")
    assert backup["ExecStart"].endswith("backup --config /etc/dutybot/config.toml --keep 30")
    assert backup["User"] == "dutybot" and backup["ProtectSystem"] == "strict"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    dutybot = Path(sys.executable).with_name("dutybot")
    for name in ("dutybot.service", "dutybot-backup.service", "dutybot-backup.timer"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/dutybot/venv/bin/dutybot", str(dutybot)),
                                     encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", *map(str, tmp_path.iterdir())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
