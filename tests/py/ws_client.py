"""A WebSocket client on the `websockets` library from PyPI, for tests/tests/websocket.rs.

`websockets` is an implementation of RFC 6455 and RFC 7692 written apart from every
Rust one; it offers permessage-deflate by default, so the echo below runs compressed.

Usage: ws_client.py URL

Prints one line per finding; the Rust test compares them. Exits non-zero (with a
traceback) on a protocol error or the safety timeout.
"""

import asyncio
import hashlib
import sys

from websockets.asyncio.client import connect

# A safety net against a hang, never a way to wait: every step waits on the server.
TIMEOUT = 30


async def main(url):
    async with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        extensions = [e.name for e in ws.protocol.extensions]
        print("extensions", " ".join(extensions) or "none")
        await ws.send("héllo")
        print("text", await asyncio.wait_for(ws.recv(), TIMEOUT))
        # Compressible and large: many frames' worth, inflated back by the server.
        big = bytes(i % 251 for i in range(1_000_000))
        await ws.send(big)
        echoed = await asyncio.wait_for(ws.recv(), TIMEOUT)
        print("binary", len(echoed), hashlib.sha256(echoed).hexdigest() == hashlib.sha256(big).hexdigest())
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)
        print("pong ok")
    print("close", ws.close_code)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
