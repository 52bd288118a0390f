"""The server's limits: the connection cap fits the descriptor limit; answers name limits."""

import subprocess
import sys
import textwrap

from openbell.platform.settings import Settings
from openbell.platform.web.server import DESCRIPTOR_RESERVE, ServerLimits, refusals

FIT = textwrap.dedent(
    """
    import resource, sys
    from openbell.platform.settings import Settings
    from openbell.platform.web.server import ServerLimits, fit_descriptor_limit

    resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
    limits = ServerLimits.from_settings(Settings(max_connections=int(sys.argv[3])))
    fitted = fit_descriptor_limit(limits)
    print(fitted.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    """
)


def fit(soft: int, hard: int, connections: int) -> tuple[int, int]:
    # A process of its own: a lowered hard limit cannot be raised again.
    result = subprocess.run(
        [sys.executable, "-c", FIT, str(soft), str(hard), str(connections)],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    cap, soft_after = result.stdout.split()
    return int(cap), int(soft_after)


def test_the_soft_descriptor_limit_is_raised_to_fit_the_connection_cap():
    assert fit(512, 8192, 1000) == (1000, 1000 + DESCRIPTOR_RESERVE)


def test_the_connection_cap_is_lowered_to_fit_a_hard_descriptor_limit():
    assert fit(1024, 1024, 4096) == (1024 - DESCRIPTOR_RESERVE, 1024)


def test_the_servers_own_answers_name_the_limits_they_enforce():
    limits = ServerLimits.from_settings(
        Settings(max_request_head_bytes=8192, max_request_headers=50)
    )
    problems = refusals(limits)
    assert set(problems) == {400, 408, 431, 503}
    assert "8192 bytes" in str(problems[431].detail)
    assert "50 header fields" in str(problems[431].detail)
    assert problems[503].headers == {"Retry-After": "1"}
