"""``alphagan serve``: a page and an HTTP API for matting (needs ``pip install 'alphagan[app]'``).

This module only builds the command's arguments and starts the server; importing it is
light (FastAPI, uvicorn and torch are imported when the server starts).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys

__all__ = ["build_serve_parser", "run_serve"]

_EXAMPLE = """example:
  alphagan serve                      # then open http://127.0.0.1:7860
  curl -F image=@cat.jpg -F trimap=@cat_trimap.png http://127.0.0.1:7860/api/matte -o cutout.png
"""


def build_serve_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve", help="a web page and HTTP API: upload or paint a trimap, get the matte",
        description="Serve a page (upload a photo, paint or upload a trimap or mask, get the "
                    "alpha and cut-out) and POST /api/matte. Loads the model once.",
        epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; 0.0.0.0 exposes it to the network, without "
                        "any authentication (default: %(default)s)")
    p.add_argument("--port", type=int, default=7860, help="TCP port (default: %(default)s)")
    p.add_argument("--checkpoint", help="generator: a shipped model's name or a .safetensors "
                                        "file (default: the shipped model)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:1, mps "
                        "(default: %(default)s)")
    p.add_argument("--max-megapixels", type=float, default=16.0,
                   help="largest photo, trimap or mask accepted (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=50.0,
                   help="largest request body in MB (default: %(default)s)")
    p.add_argument("--queue", type=int, default=16,
                   help="requests waiting or running at once; more get HTTP 503 "
                        "(default: %(default)s)")
    return p


def run_serve(args: argparse.Namespace) -> int:
    """Load the model, then serve until interrupted. Returns the exit status."""
    if not 0 < args.port < 65536:
        return _fail(f"--port must be 1..65535, got {args.port}", 2)
    if args.max_megapixels <= 0 or args.max_upload_mb <= 0 or args.queue < 1:
        return _fail("--max-megapixels and --max-upload-mb must be > 0, --queue >= 1", 2)
    try:
        import uvicorn

        from alphagan.web.server import create_app
    except ImportError as exc:
        return _fail(f"alphagan serve needs the 'app' extra ({exc.name} is missing): "
                     "pip install 'alphagan[app]'", 1)
    from alphagan.defaults import MODEL_NAME
    from alphagan.errors import InputError
    from alphagan.matting import load_prepared, pick_device
    from alphagan.web.service import MattingService
    from alphagan.web.uploads import Limits

    # Listen before loading anything: a port in use is one line at once, not an error from
    # uvicorn after "serving on ..." was printed.
    try:
        family = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((args.host, args.port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return _fail(f"cannot listen on {args.host}:{args.port}: {reason} (choose another "
                     f"--port or --host)", 1)
    try:
        device = pick_device(args.device)
        # prepared as the CLI and alphagan.matte prepare it, once for the server's lifetime
        model = load_prepared(args.checkpoint, str(device))
    except InputError as exc:
        sock.close()
        return _fail(str(exc), 1)
    except BaseException:
        sock.close()  # any other failure (a bug, Ctrl+C while loading): do not keep the port
        raise
    name = args.checkpoint or f"{MODEL_NAME} (shipped)"
    limits = Limits(max_bytes=int(args.max_upload_mb * 2**20),
                    max_pixels=int(args.max_megapixels * 1e6))
    service = MattingService(model, model_name=name, limits=limits, max_pending=args.queue)
    service.warm_up()
    if not _is_loopback(args.host):
        print(f"alphagan: warning: listening on {args.host}: anyone who can reach it can use "
              "this server (there is no authentication)", file=sys.stderr)
    print(f"alphagan: {name} on {device}; serving on http://{_url_host(args.host)}:"
          f"{args.port} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(service), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _fail(message: str, status: int) -> int:
    print(f"alphagan: error: {message}", file=sys.stderr)
    return status


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
