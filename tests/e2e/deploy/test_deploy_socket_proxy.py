"""The deploy sidecar's Docker access through the socket proxy the estate gives it: enough,
and no more.

The proxy runs with exactly the environment of the rendered agents stack's
`socket-proxy-deploy` (prod, as the QNAP runs it: the ASUSTOR's deploy sidecar reaches it over
ssh://, docs/deploy.md). A blue-green deploy (pull from the registry, green created beside
blue, health gate, switch at the edge, drain) and one whose health gate fails (green's logs,
green removed) run through it: the proxy refuses none of their requests, and the switches it
has on are exactly those the requests needed (derived from the proxy's own haproxy.cfg,
support/socket_proxy.py), plus PING for the sidecar's /readyz.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from deploy_estate import Estate, section_for
from estate import Estate as EstateTool
from estate import Selection
from support import socket_proxy

from napops.deploy.engine import Deployer
from napops.deploy.state import Deployment, new_id

pytestmark = pytest.mark.e2e


def rendered_proxy_env(service: str) -> dict[str, object]:
    model = EstateTool().render(Selection.stack("prod", "agents", "qnap"))
    return dict(model["services"][service]["environment"])


def test_deploys_pass_the_proxy_with_exactly_what_they_need(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer]
) -> None:
    with socket_proxy.started(rendered_proxy_env("socket-proxy-deploy"), world.prefix) as proxy:
        deployer = make_deployer(
            section_for(world, verify_seconds=1, health_timeout_seconds=15),
            docker={"host": proxy.url, "timeout_seconds": 30},
        )
        good = deployer.run(Deployment(new_id(), "backend", "e2e", images["v2"], "test"))
        assert good.state == "succeeded", (good.reason, good.steps)
        bad = deployer.run(Deployment(new_id(), "backend", "e2e", images["v3"], "test"))
        assert bad.state == "failed" and "health gate" in (bad.reason or ""), bad.reason
        assert world.get() == "v2"

        requests = proxy.requests()
        assert requests, "the proxy logged no request"
        refused = [f"{q.method} {q.path} -> {q.status}" for q in requests if q.status == 403]
        assert not refused, "the proxy refused what the deploy needs:\n" + "\n".join(refused)
        wanted = socket_proxy.needed(requests) | {"PING"}
        assert proxy.enabled() == wanted, (
            f"socket-proxy-deploy allows {sorted(proxy.enabled() - wanted)} that nothing "
            f"asked for, and lacks {sorted(wanted - proxy.enabled())}"
        )
