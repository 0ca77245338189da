"""Run the fake hub: python -m pulp_hugging_face.tests.functional.fake_hub --port P --cdn-port Q"""

import argparse
import asyncio
import os
import signal

from aiohttp import web

from .app import HubServer
from .repos import build_repos


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Fake Hugging Face Hub for functional tests.")
    parser.add_argument("--host", default="127.0.0.1", help="hub host (also its public origin)")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument(
        "--cdn-host", default="localhost", help="CDN host; must differ from the hub origin"
    )
    parser.add_argument("--cdn-port", type=int, default=8901)
    parser.add_argument(
        "--token",
        default=os.environ.get("FAKE_HUB_TOKEN", "hf_fake_secret_token"),
        help="the token that opens the private and gated repos",
    )
    parser.add_argument("--page-size", type=int, default=1000, help="tree entries per page")
    return parser.parse_args(argv)


async def serve(args) -> None:
    hub_url = f"http://{args.host}:{args.port}"
    hub = HubServer(
        build_repos(),
        hub_url,
        f"http://{args.cdn_host}:{args.cdn_port}",
        args.token,
        args.page_size,
    )
    runners = []
    for app, host, port in (
        (hub.hub_app(), args.host, args.port),
        (hub.cdn_app(), args.cdn_host, args.cdn_port),
    ):
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        runners.append(runner)
    print(f"READY {hub_url}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main(argv=None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
