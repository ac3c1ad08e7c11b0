"""The sidecar client: no answer is SidecarUnreachable, and a closed client stays closed."""

from __future__ import annotations

import pytest

from taskstream.sidecar import SidecarClient, SidecarUnreachable


async def test_a_sidecar_that_is_down_is_unreachable() -> None:
    client = SidecarClient("http://127.0.0.1:9", timeout=2.0)
    try:
        with pytest.raises(SidecarUnreachable, match=r"POST /v1\.0/publish"):
            await client.request("POST", "/v1.0/publish/pubsub/t", body=b"{}")
    finally:
        await client.close()


async def test_a_call_after_close_opens_no_new_session() -> None:
    # A background renewal that runs after shutdown must not leave a session nobody closes
    # (aiohttp warns when one is collected unclosed; the suite fails on warnings).
    client = SidecarClient("http://127.0.0.1:9", timeout=2.0)
    with pytest.raises(SidecarUnreachable):
        await client.request("GET", "/v1.0/healthz")
    await client.close()
    with pytest.raises(SidecarUnreachable, match="closed"):
        await client.request("GET", "/v1.0/healthz")
    assert client._session is None
