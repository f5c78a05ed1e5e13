"""``python -m azext_entracert.emulator --state-dir DIR``: run the emulator until SIGTERM/SIGINT.

When ready it prints one JSON line (authority_host, tenant_id, tenant_domain, graph_endpoint,
ca_bundle, admin, replication_delay, resource_manager_endpoint, subscriptions, pid) on stdout and
writes the same object to ``DIR/emulator.json``.
"""
import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m azext_entracert.emulator",
        description="Run a local Microsoft Entra ID + Microsoft Graph emulator over TLS.")
    parser.add_argument("--state-dir", required=True, type=Path,
                        help="Folder for the CA, keys and tenant.json "
                             "(created if missing; reused).")
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (loopback).")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port).")
    parser.add_argument("--resource-manager-port", type=int, default=0,
                        help="TCP port of the emulated Azure Resource Manager (0: any free port).")
    parser.add_argument("--subscription", action="append", default=[], metavar="ID[:NAME]",
                        help="A subscription Resource Manager lists, so plain `az login "
                             "--service-principal` works (repeat for more; default: none).")
    parser.add_argument("--clock-skew", type=int, default=300, metavar="SECONDS",
                        help="Tolerance for client assertion times (default 300).")
    parser.add_argument("--replication-delay", type=float, default=0, metavar="SECONDS",
                        help="Imitate Entra's replication lag: applications, service principals "
                             "and certificates created through Graph are refused at the token "
                             "endpoint (AADSTS700016/7000229/700027) for this long (default 0).")
    parser.add_argument("--allow-remote", action="store_true",
                        help="Allow a non-loopback --host "
                             "(the admin credentials become reachable).")
    parser.add_argument("--verbose", action="store_true", help="Log requests to stderr.")
    args = parser.parse_args(argv)
    for flag, port in (("--port", args.port), ("--resource-manager-port",
                                                args.resource_manager_port)):
        if not 0 <= port <= 65535:
            parser.error(f"{flag} {port} is not a TCP port (use 0-65535)")
    if args.clock_skew < 0:
        parser.error("--clock-skew must be 0 or more seconds")
    if not 0 <= args.replication_delay < float("inf"):
        parser.error("--replication-delay must be 0 or more seconds")
    if args.state_dir.exists() and not args.state_dir.is_dir():
        parser.error(f"--state-dir {args.state_dir} exists and is not a folder")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from ..core.errors import EntraCertError
    from ..core.fileio import PRIVATE, atomic_write
    from .runner import Emulator

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        emulator = Emulator(args.state_dir, host=args.host, port=args.port,
                            clock_skew=args.clock_skew, allow_remote=args.allow_remote,
                            replication_delay=args.replication_delay,
                            subscriptions=args.subscription,
                            resource_manager_port=args.resource_manager_port).start()
    except EntraCertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        line = json.dumps(emulator.info)
        atomic_write(args.state_dir / "emulator.json", line.encode("utf-8") + b"\n",
                     mode=PRIVATE, overwrite=True)
        print(line, flush=True)
        stopping.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
