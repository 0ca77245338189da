"""A TCP proxy that behaves like a WAN link: a fixed one-way delay and a rate limit per direction.

    python benchmarks/wan.py --listen 9000 --target 8900 --delay-ms 20 --rate-mbit 1000

This kernel has no netem qdisc, so the link is emulated in user space: every chunk read from one
side is held until `departure + delay`, where departure is when a link of the given rate would
have finished sending it after what was queued before it. At most `--buffer` bytes wait per
direction (the link's queue); past that, reading stops and TCP flow control pushes back, as a
full router queue would. 20 ms each way gives a 40 ms round trip.
"""

import argparse
import asyncio
import collections
import time

CHUNK = 64 * 1024


class Link:
    """One direction of the link: chunks in, chunks out after their departure and the delay."""

    def __init__(self, writer, delay, rate, buffer):
        self.writer, self.delay, self.rate, self.buffer = writer, delay, rate, buffer
        self.queue = collections.deque()
        self.queued = 0
        self.free_at = 0.0  # when the link has sent everything queued so far
        self.arrived = asyncio.Event()
        self.drained = asyncio.Event()
        self.closed = False

    def put(self, data):
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + len(data) / self.rate
        self.queue.append((self.free_at + self.delay, data))
        self.queued += len(data)
        self.arrived.set()

    async def room(self):
        while self.queued > self.buffer:
            self.drained.clear()
            await self.drained.wait()

    async def deliver(self):
        try:
            while True:
                while not self.queue:
                    if self.closed:
                        return
                    self.arrived.clear()
                    await self.arrived.wait()
                at, data = self.queue.popleft()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.writer.write(data)
                await self.writer.drain()
                self.queued -= len(data)
                self.drained.set()
        finally:
            self.writer.close()


async def pump(reader, link):
    try:
        while data := await reader.read(CHUNK):
            link.put(data)
            await link.room()
    except ConnectionError:
        pass
    finally:
        link.closed = True
        link.arrived.set()


async def main(args):
    delay, rate = args.delay_ms / 1000, args.rate_mbit * 1e6 / 8

    async def connected(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(args.host, args.target)
        except OSError:
            client_writer.close()
            return
        up = Link(server_writer, delay, rate, args.buffer)
        down = Link(client_writer, delay, rate, args.buffer)
        await asyncio.gather(
            pump(client_reader, up),
            pump(server_reader, down),
            up.deliver(),
            down.deliver(),
            return_exceptions=True,
        )

    server = await asyncio.start_server(connected, args.host, args.listen, backlog=1024)
    print(f"LISTENING {args.host}:{args.listen}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay")
    parser.add_argument("--rate-mbit", type=float, default=1000.0, help="per direction")
    parser.add_argument("--buffer", type=int, default=8 * 1024 * 1024, help="queue bytes")
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        pass
