"""`openrcm-issuer`: run the local issuer and manage its clients and keys.

    openrcm-issuer serve [--host 127.0.0.1] [--port 8020]
    openrcm-issuer add-client CLIENT_ID --tenant demo [--tenant demo-2] --scope claims:write ... [--subject S]
    openrcm-issuer list-clients
    openrcm-issuer rotate-key | retire-key KID

Settings come from OPENRCM_ISSUER_* (see app.IssuerSettings).
"""

from __future__ import annotations

import argparse
import json
import sys

from openrcm_issuer.app import IssuerSettings, create_app
from openrcm_issuer.clients import ClientRegistry
from openrcm_issuer.keys import KeyStore
from openrcm_shared.security.scopes import ALL_SCOPES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openrcm-issuer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8020)
    add = commands.add_parser("add-client", help="register a client and print its secret (shown once)")
    add.add_argument("client_id")
    add.add_argument("--tenant", action="append", required=True, help="a practice the client acts for")
    add.add_argument("--scope", action="append", help=f"a scope it may request (default: all: {' '.join(ALL_SCOPES)})")
    add.add_argument("--subject", default="", help="the token's sub (default: the client id)")
    add.add_argument("--name", default="")
    commands.add_parser("list-clients")
    commands.add_parser("rotate-key")
    retire = commands.add_parser("retire-key")
    retire.add_argument("kid")
    args = parser.parse_args(argv)
    settings = IssuerSettings()

    if args.command == "serve":
        import uvicorn

        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    elif args.command == "add-client":
        secret = ClientRegistry(settings.clients_file).add(
            client_id=args.client_id, tenants=args.tenant, scopes=args.scope or list(ALL_SCOPES),
            subject=args.subject, name=args.name)
        print(json.dumps({"client_id": args.client_id, "client_secret": secret}))
    elif args.command == "list-clients":
        for client in ClientRegistry(settings.clients_file).all():
            print(json.dumps({"client_id": client.client_id, "tenants": client.tenants, "scopes": client.scopes}))
    elif args.command == "rotate-key":
        print(KeyStore(settings.keys_dir).rotate().kid)
    elif args.command == "retire-key":
        if not KeyStore(settings.keys_dir).retire(args.kid):
            print(f"no key {args.kid}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
