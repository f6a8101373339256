"""The shared-data switch, both ways: a tiny test using the ``shared`` fixture is run by pytest in a
subprocess with tests/conftest.py as its only plugin, and $TRAITKG_SHARED_DATA pointing at a missing
directory (skipped with a reason and one summary line; or, under TRAITKG_REQUIRE_SHARED_DATA=1, a
failed run) or at the real data (passes, nothing skipped)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SHARED_DATA_ENV, ROOT, SHARED_DATA_ENV, shared_data_dir, shared_data_missing

TINY = '''
def test_reads_the_shared_data(shared):
    assert shared.is_dir()


def test_without_shared_data():
    pass
'''


def run_tiny(tmp_path: Path, data: Path, *, require: bool, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    work = tmp_path / "tiny"
    work.mkdir(exist_ok=True)
    (work / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k not in (SHARED_DATA_ENV, REQUIRE_SHARED_DATA_ENV)}
    env.update({SHARED_DATA_ENV: str(data), "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    if require:
        env[REQUIRE_SHARED_DATA_ENV] = "1"
    # cwd outside the repository: no pyproject addopts; the repository's conftest is loaded as a plugin
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "-rs", *args, "test_tiny.py"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)


def test_missing_data_skips_with_reason_and_one_summary_line(tmp_path):
    missing = tmp_path / "no-such-data"
    r = run_tiny(tmp_path, missing, require=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "1 passed, 1 skipped" in out
    summary = [line for line in out.splitlines() if line.startswith("1 test skipped: shared data not found at")]
    assert len(summary) == 1, out
    for text in (summary[0], out.split("SKIPPED [1]")[1]):  # the summary line and the skip reason
        assert str(missing) in text and SHARED_DATA_ENV in text and str(ROOT.parent / "shared" / "data") in text


def test_default_is_beside_the_repository_and_the_reason_says_so(monkeypatch):
    monkeypatch.delenv(SHARED_DATA_ENV, raising=False)
    assert shared_data_dir() == ROOT.parent / "shared" / "data"
    why = shared_data_missing(shared_data_dir())
    assert f"not found at {ROOT.parent / 'shared' / 'data'} (the default, ../shared/data)" in why
    assert f"set {SHARED_DATA_ENV}=" in why


def test_missing_data_is_marked_and_selectable(tmp_path):
    r = run_tiny(tmp_path, tmp_path / "no-such-data", require=False, args=("-m", "shared_data"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "1 skipped, 1 deselected" in out


def test_missing_data_fails_the_run_when_required(tmp_path):
    missing = tmp_path / "no-such-data"
    r = run_tiny(tmp_path, missing, require=True)
    out = r.stdout + r.stderr
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert f"{REQUIRE_SHARED_DATA_ENV}=1 but shared data not found at {missing}" in r.stderr
    assert "passed" not in out and "skipped" not in out


@pytest.mark.slow
@pytest.mark.parametrize("require", [False, True])
def test_present_data_skips_nothing(tmp_path, shared, require):
    r = run_tiny(tmp_path, shared, require=require)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "2 passed" in out and "skipped" not in out
