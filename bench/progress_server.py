"""The real API server as a subprocess (`congress serve`, one worker) and what /proc says of it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 30.0
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 1,
    log_name: str = "server.log",
    environment: Mapping[str, str] | None = None,
) -> Server:
    """`congress serve --workers N` (one by default) on a free port; its output goes to the
    log `log_name` in `data_dir` (a pipe nobody reads would fill up and stall the server's
    access log). Servers sharing `data_dir` share its signing key. `environment` adds to
    the server's (settings such as CONGRESS_LOCK_WAIT_SECONDS)."""
    port = free_port()
    log_path = data_dir / log_name
    command = [
        sys.executable, "-m", "cli", "--data-dir", str(data_dir), "--database-url", database_url,
        "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(environment or {})},
        )
    return Server(process, f"http://127.0.0.1:{port}", log_path)


async def wait_until_ready(server: Server) -> None:
    """Poll /health: `serve` migrates (a no-op here) before uvicorn starts listening."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {server.log_path}")
            try:
                if (await client.get(f"{server.base_url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {READY_TIMEOUT_SECONDS:.0f} s")


def stop_server(server: Server) -> None:
    """SIGINT, as Ctrl-C would (uvicorn shuts down cleanly), then SIGKILL if it hangs."""
    if server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def server_processes(pid: int) -> list[int]:
    """The server and its descendants: with one worker uvicorn serves in the `congress`
    process itself; with more it forks workers, whose memory is what counts."""
    found = [pid]
    for child in child_processes(pid):
        found.extend(server_processes(child))
    return found


def child_processes(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            listed = (task / "children").read_text().split()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile (aiosqlite runs one per connection)
        children.extend(int(child) for child in listed)
    return children


def peak_memory_mib(pid: int) -> float:
    """The largest VmHWM (peak resident set) of the server's processes, in MiB."""
    return max(_status_kib(process, "VmHWM") for process in server_processes(pid)) / 1024


def resident_memory_mib(pid: int) -> float:
    """The resident set of the process `pid` now, in MiB."""
    return _status_kib(pid, "VmRSS") / 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server's processes so far."""
    total_ticks = 0
    for process in server_processes(pid):
        # The command name (field 2) may hold spaces: count fields after its ')'.
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total_ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return total_ticks / CLOCK_TICKS_PER_SECOND
