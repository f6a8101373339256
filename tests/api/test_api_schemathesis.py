"""Property-based checks of the OpenAPI document against a running server (bounded):
no 5xx anywhere, every response matches its documented schema, status and content type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _api_support import TOKEN, Uvicorn, load_toy_tree

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, toy):
    selector = load_toy_tree(tmp_path_factory.mktemp("st") / "store", toy)
    srv = Uvicorn({"TRAITKG_STORE": selector, "TRAITKG_API_TOKEN": TOKEN, "TRAITKG_QUERY_TIMEOUT": "5",
                   "TRAITKG_MAX_UPLOAD": "100000"})
    yield srv
    srv.stop()


def test_openapi_contract(api_server, tmp_path):
    """``schemathesis run`` (the CLI: pytest 9 is not supported by its plugin), bounded in examples."""
    exe = Path(sys.executable).parent / "schemathesis"
    checks = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
    cmd = [str(exe), "run", api_server.url + "/api/v1/openapi.json", "--checks", checks,
           "--max-examples", "25", "--request-timeout", "30", "--seed", "20261129",
           "--phases", "examples,coverage,fuzzing"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(r.stdout[-6000:])
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]
    assert "No issues found" in r.stdout or " passed" in r.stdout
