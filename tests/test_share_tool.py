"""sandbox/tools/share.py reads the proxy's answers right. No Docker needed; the tool
against the real proxy is proven by the canary and blue-green pages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "sandbox" / "tools" / "share.py"


@pytest.fixture(scope="module")
def share():
    # run as a script, the tool finds dockercli.py beside it; imported, it needs the path
    sys.path.insert(0, str(TOOL.parent))
    spec = importlib.util.spec_from_file_location("share_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# `show stat` as HAProxy 2.6 prints it, cut to the columns that matter and a few others
STAT = """# pxname,svname,qcur,scur,stot,status,weight,check_status,
api,FRONTEND,,0,120,OPEN,,,
api,api1,0,0,60,UP,1,L7OK,
api,api2,0,0,58,UP,1,L7OK,
api,api3,0,0,0,DOWN,1,L7STS,
api,api4,0,0,0,MAINT (resolution),1,,
api,BACKEND,0,0,118,UP,2,,
api_next,next1,0,0,2,UP 1/2,1,L7OK,
api_next,next2,0,0,0,MAINT (resolution),1,,
api_next,BACKEND,0,0,2,UP,1,,
api_alive,api1,0,0,0,UP,1,L7OK,
"""


def test_pools_count_ready_and_known_replicas_not_empty_slots(share) -> None:
    assert share.pools_in(STAT) == {"api": (2, 3), "api-next": (1, 1)}


def test_no_next_pool_servers_is_zero_of_zero(share) -> None:
    only_api = "\n".join(line for line in STAT.splitlines() if "next" not in line)
    assert share.pools_in(only_api)["api-next"] == (0, 0)


def test_share_from_the_map_and_a_missing_entry_says_so(share) -> None:
    assert share.share_in("0x55d0a1b2c3d0 next 25\n\n") == 25
    with pytest.raises(share.ShareError, match="has no `next` entry"):
        share.share_in("0x55d0a1b2c3d0 other 25\n")


def test_describe_is_one_line_a_reader_can_act_on(share) -> None:
    line = share.describe(25, {"api": (2, 2), "api-next": (0, 1)})
    assert line == "api-next gets 25 % of requests; ready replicas: api 2/2, api-next 0/1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "101"], "PERCENT must be 0-100"),
        (["check", "--max-error-rate", "2", "--max-p95", "1", "--prometheus",
          "http://10.0.0.1:9090"], "must be on 127.0.0.1"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_before_anything_runs(args, message) -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr.strip().splitlines()[-1]
