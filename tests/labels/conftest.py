import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests import factories


class ZebraListener:
    """A real TCP listener standing in for a Zebra printer's raw port: it keeps every job (connection) it
    receives, read to the end."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self.received = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _address = self.server.accept()
            except OSError:
                return  # closed
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
            self.jobs.append(b"".join(chunks))
            self.received.set()

    def job(self, timeout: float = 5) -> bytes:
        assert self.received.wait(timeout), "the printer received nothing"
        return self.jobs[-1]

    def close(self) -> None:
        # close() alone leaves accept() blocked (the join then waited its 5 s); shutdown() wakes it.
        with contextlib.suppress(OSError):  # not connected: nothing to wake
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def zebra() -> Iterator[ZebraListener]:
    listener = ZebraListener()
    yield listener
    listener.close()


@pytest.fixture
def printer(db, zebra):
    return factories.make_printer(port=zebra.port)


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
def stalled_port() -> Iterator[int]:
    """A port whose listener never accepts and whose queue is full, so a new connection is never answered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):  # Linux queues backlog + 1; further handshakes get no answer
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    server.close()
