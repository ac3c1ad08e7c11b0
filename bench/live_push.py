"""Mutation → subscription push latency in `taskstream up`, and memory per idle WebSocket.

Run: .venv/bin/python -m bench.live_push [--mutations 300] [--idle 500]
Writes bench/results/live_push.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from bench.common import UpProcess, percentile, write_result

SUBSCRIPTION = "subscription { taskEvents { kind taskId version } }"


async def open_socket(ws_url: str, token: str, *, subscribe: bool) -> Any:
    """An authenticated graphql-transport-ws connection, optionally with a subscription."""
    ws = await websockets.connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    if subscribe:
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
    return ws


async def run(url: str, pid: int, mutations: int, idle: int) -> dict[str, Any]:
    """Measure push latency, then the memory that idle connections cost the server."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = (
            await http.post(
                "/graphql",
                json={
                    "query": 'mutation { signUp(email: "live@example.com", '
                    'password: "live password") { token } }'
                },
            )
        ).json()
        token = body["data"]["signUp"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        ws = await open_socket(ws_url, token, subscribe=True)
        await asyncio.sleep(0.3)
        latencies = []
        for i in range(mutations):
            started = time.perf_counter()
            await http.post(
                "/graphql",
                json={"query": f'mutation {{ createTask(input: {{title: "push {i}"}}) {{ id }} }}'},
                headers=headers,
            )
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "next", message
            latencies.append((time.perf_counter() - started) * 1000)
        await ws.close()
        figures: dict[str, Any] = {
            "mutation_to_push_ms": {
                "p50": round(percentile(latencies, 0.5), 2),
                "p99": round(percentile(latencies, 0.99), 2),
                "note": "from sending the mutation to receiving its event (includes the mutation)",
            }
        }
        if idle == 0:
            return figures
        server = psutil.Process(pid)
        await asyncio.sleep(0.5)
        before = server.memory_info().rss
        sockets = [await open_socket(ws_url, token, subscribe=True) for _ in range(idle)]
        await asyncio.sleep(1.0)
        after = server.memory_info().rss
        for socket in sockets:
            await socket.close()
    return {
        **figures,
        "idle_subscribed_connections": idle,
        "server_rss_per_connection_kib": round((after - before) / idle / 1024, 1),
    }


def main() -> None:
    """Run and record."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mutations", type=int, default=300)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--stack", action="store_true", help="measure `stack up` instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        up = UpProcess(Path(folder) / "data", stack=args.stack)
        try:
            # Under `stack up` the server processes are the replicas behind a proxy: no RSS.
            idle = 0 if args.stack else args.idle
            figures = asyncio.run(run(up.url, up.process.pid, args.mutations, idle))
        finally:
            up.stop()
    mode = "stack" if args.stack else "up"
    result = {
        "command": f"python -m bench.live_push{' --stack' if args.stack else ''}",
        "mode": mode,
        **figures,
    }
    print(write_result(f"live_push_{mode}", result).read_text())


if __name__ == "__main__":
    main()
