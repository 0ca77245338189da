"""Run the fake hub: python -m pulp_hugging_face.tests.functional.fake_hub --port P --cdn-port Q

With --tls-cert/--tls-key every origin (hub, CDN, ...) serves HTTPS with that one certificate;
--tls-client-ca also makes every origin require a client certificate signed by that CA.
"""

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
    parser.add_argument("--bridge-port", type=int, default=8902, help="Xet bridge, on the CDN host")
    parser.add_argument(
        "--token",
        default=os.environ.get("FAKE_HUB_TOKEN", "hf_fake_secret_token"),
        help="the token that opens the private and gated repos",
    )
    parser.add_argument(
        "--public-port", type=int, help="the hub port clients are sent to (default --port)"
    )
    parser.add_argument(
        "--public-cdn-port", type=int, help="the CDN port redirects name (default --cdn-port)"
    )
    parser.add_argument("--page-size", type=int, default=1000, help="tree entries per page")
    parser.add_argument(
        "--variant", help="serve other bytes for some model files under the same commits"
    )
    parser.add_argument(
        "--files-repo",
        action="append",
        default=[],
        metavar="REPO_ID=DIR",
        help="also serve a model made of the files of DIR (for benchmarks); repeatable",
    )
    parser.add_argument("--tls-cert", help="PEM server certificate: serve HTTPS on every origin")
    parser.add_argument("--tls-key", help="PEM key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca", help="PEM CA: every origin requires a client certificate it signed"
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key) or (args.tls_client_ca and not args.tls_cert):
        parser.error("--tls-cert and --tls-key go together; --tls-client-ca needs them")
    return args


def ssl_context(args):
    """The listeners' SSL context, or None for plain HTTP."""
    if not args.tls_cert:
        return None
    from .tls import server_context

    return server_context(args.tls_cert, args.tls_key, args.tls_client_ca)


async def serve(args) -> None:
    context = ssl_context(args)
    scheme = "https" if context else "http"
    # A benchmark puts a WAN-emulating proxy in front: then the public ports are the proxy's.
    hub_url = f"{scheme}://{args.host}:{args.public_port or args.port}"
    hub = HubServer(
        build_repos(args.variant, dict(item.split("=", 1) for item in args.files_repo)),
        hub_url,
        f"{scheme}://{args.cdn_host}:{args.public_cdn_port or args.cdn_port}",
        args.token,
        args.page_size,
        bridge_url=f"{scheme}://{args.cdn_host}:{args.bridge_port}",
    )
    runners = []
    # Every origin gets the same SSL context (one certificate names all the hosts).
    for app, host, port in (
        (hub.hub_app(), args.host, args.port),
        (hub.cdn_app(), args.cdn_host, args.cdn_port),
        (hub.bridge_app(), args.cdn_host, args.bridge_port),
    ):
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
        await site.start()
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
