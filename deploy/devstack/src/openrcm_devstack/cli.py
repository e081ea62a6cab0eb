"""`openrcm-stack`: run the stack, follow its events, inspect and replay dead letters.

    openrcm-stack run                      everything, in the foreground; Ctrl-C stops it all
    openrcm-stack events tail [--type T] [--claim ID] [--from-beginning]
    openrcm-stack dlq list
    openrcm-stack dlq replay TOPIC [--offset N ...]
    openrcm-stack dlq skip TOPIC --offset N [--offset M ...]
    openrcm-stack topics                   create/update topics from deploy/topics.toml
    openrcm-stack token [CLIENT_ID]        an access token for a demo client of the running stack
    openrcm-stack codesets import PATH... [--kind K] [--effective-date D] [--client C | --token T]
    openrcm-stack codesets list            CMS code sets in the running claims service
    openrcm-stack kafka-acls [--apply]     the services' SCRAM users and ACLs: print the commands, or apply them
    openrcm-stack tls-certs DIR            a throwaway CA and server certificates, for trying TLS locally

Kafka clients take their security from the environment (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
KAFKA_SSL_*); `topics` and `kafka-acls --apply` need the cluster admin's login.
    openrcm-stack audit verify [--database-url [NAME=]URL ...]   check every audit hash chain
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import date
from pathlib import Path

from openrcm_devstack import events
from openrcm_devstack.paths import local_dir
from openrcm_devstack.stack import DEFAULT_PORTS, Stack


def _bootstrap(args) -> str:
    if args.bootstrap_servers:
        return args.bootstrap_servers
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    manifest = local_dir() / "stack.json"
    if manifest.exists():
        return json.loads(manifest.read_text())["kafka"]["bootstrap_servers"]
    return f"127.0.0.1:{DEFAULT_PORTS.kafka}"


def _say(*lines: str, err: bool = False, sep: str = " ") -> None:
    """Print, but never let a closed terminal or pipe stop the shutdown."""
    try:
        print(*lines, sep=sep, file=sys.stderr if err else sys.stdout, flush=True)
    except OSError:
        pass


def cmd_run(args) -> int:
    stack = Stack(local_dir() / "run", DEFAULT_PORTS, fresh=args.fresh)
    stopping = {"flag": False}

    def request_stop(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGHUP, request_stop)  # the terminal went away
    try:
        _say("Starting PostgreSQL, Kafka, topics and migrations...")
        stack.start_infrastructure()
        _say("Starting services...")
        stack.start_services()
        manifest = stack.write_manifest()
        (local_dir() / "stack.json").write_text(manifest.read_text())
        _say("\nOpenRCM is up.", f"  Kafka        {stack.kafka.bootstrap_servers}", sep="\n")
        for name, service in stack.services.items():
            shows = "health and metrics" if service.role in ("worker", "relay") else f"docs {service.url}/docs"
            _say(f"  {name:<13} {service.url}   ({shows})")
        _say(f"  clearinghouse simulator {stack.clearinghouse_url}")
        _say_how_to_get_a_token(stack)
        _say(f"\nEndpoints: {local_dir() / 'stack.json'}   Logs: {stack.state_dir / 'logs'}",
             "Ctrl-C stops everything.", sep="\n")
        while not stopping["flag"]:
            for name, service in stack.services.items():
                if not service.process.running():
                    _say(f"{name} exited; see {service.process.log_file}", err=True)
                    stopping["flag"] = True
            time.sleep(0.5)
        return 0
    except Exception as exc:
        _say(f"start-up failed: {exc}", err=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("\nStopping...")
        stack.stop()
        (local_dir() / "stack.json").unlink(missing_ok=True)
        _say("Stopped.")


def _say_how_to_get_a_token(stack: Stack) -> None:
    auth = stack.issuer.manifest()
    _say(f"  token issuer {auth['issuer']}   (OAuth 2.0 client credentials; metadata at "
         f"{auth['issuer']}/.well-known/oauth-authorization-server)")
    _say("\nEvery API call needs an access token. Demo clients (secrets in .local/stack.json under \"auth\"):")
    for client in auth["clients"]:
        _say(f"  {client['client_id']:<15} practice {client['tenant']}  scopes: {' '.join(client['scopes'])}")
    first = auth["clients"][0]
    _say("Get one with:", f"  TOKEN=$(./openrcm token {first['client_id']})", "or, by hand:",
         f"  curl -s -u {first['client_id']}:{first['client_secret']} -d grant_type=client_credentials "
         f"{auth['token_url']}", sep="\n")


def _running_manifest() -> dict:
    manifest = local_dir() / "stack.json"
    if not manifest.exists():
        raise SystemExit("no running stack (.local/stack.json): start it with ./openrcm run")
    return json.loads(manifest.read_text())


def cmd_token(args) -> int:
    """An access token from the running stack's issuer, for a demo client (client_secret_basic)."""
    from openrcm_devstack.codesets import demo_token

    print(demo_token(_running_manifest(), args.client_id))
    return 0


def _claims_call(args) -> tuple[str, str]:
    """The running claims service's URL and a token (--token, or one for the demo --client)."""
    from openrcm_devstack.codesets import demo_token

    manifest = _running_manifest()
    return manifest["services"]["claims"]["url"], args.token or demo_token(manifest, args.client)


def cmd_codesets_import(args) -> int:
    """Each file to the claims service, one after the other; stops at the first it refuses."""
    from openrcm_devstack import codesets

    claims_url, token = _claims_call(args)
    for path in args.paths:
        if not path.is_file():
            _say(f"{path}: not a file", err=True)
            return 2
        try:
            answer = codesets.import_file(path, claims_url=claims_url, token=token, kind=args.kind,
                                          effective_date=args.effective_date)
        except codesets.CodeSetImportFailed as refused:
            _say(str(refused), err=True)
            return 1
        _say(*codesets.describe_import(answer), sep="\n")
    return 0


def cmd_codesets_list(args) -> int:
    from openrcm_devstack import codesets

    claims_url, token = _claims_call(args)
    _say(*codesets.describe_listing(codesets.list_code_sets(claims_url=claims_url, token=token)), sep="\n")
    return 0


def cmd_events_tail(args) -> int:
    event_filter = events.TailFilter(event_types=tuple(args.type or ()), claim_id=args.claim)
    events.run_sync(events.tail(_bootstrap(args), event_filter, from_beginning=args.from_beginning,
                                limit=args.limit, idle_timeout=args.idle_timeout))
    return 0


def cmd_dlq_list(args) -> int:
    records = events.run_sync(events.read_dlq(_bootstrap(args)))
    for record in records:
        print(events.describe_dead_letter(record))
    print(f"{len(records)} dead letter(s)")
    return 0


def cmd_dlq_replay(args) -> int:
    count = events.run_sync(events.replay(_bootstrap(args), args.topic, args.offset or None))
    print(f"replayed {count} record(s) from {args.topic}")
    return 0


def cmd_dlq_skip(args) -> int:
    count = events.run_sync(events.skip(_bootstrap(args), args.topic, args.offset))
    print(f"published {count} skip marker(s) for {args.topic}")
    return 0


def cmd_topics(args) -> int:
    from openrcm_devstack.topics import ensure_topics

    for name, action in ensure_topics(_bootstrap(args)).items():
        print(f"{action:<10} {name}")
    return 0


def cmd_kafka_acls(args) -> int:
    from openrcm_devstack import kafka_acls

    users, bindings = kafka_acls.service_principals(), kafka_acls.service_acls()
    if not args.apply:
        print("# The services' SCRAM users: each password from <SERVICE>_KAFKA_SASL_PASSWORD in this shell.")
        print(*kafka_acls.scram_user_commands(users, bootstrap_server=_bootstrap(args),
                                              command_config=args.command_config), sep="\n")
        print("# What each service may read and write (from deploy/topics.toml).")
        print(*kafka_acls.kafka_acls_commands(bindings, bootstrap_server=_bootstrap(args),
                                              command_config=args.command_config), sep="\n")
        return 0
    missing = [f"{name.upper()}_KAFKA_SASL_PASSWORD" for name in users
               if not os.environ.get(f"{name.upper()}_KAFKA_SASL_PASSWORD")]
    if missing:
        _say(f"set {', '.join(missing)} first (each service's Kafka password)", err=True)
        return 2
    passwords = {name: os.environ[f"{name.upper()}_KAFKA_SASL_PASSWORD"] for name in users}
    events.run_sync(kafka_acls.apply_scram_users(_bootstrap(args), passwords))
    events.run_sync(kafka_acls.apply_acls(_bootstrap(args), bindings))
    print(f"{len(users)} SCRAM user(s) and {len(bindings)} ACL(s) applied")
    return 0


def cmd_tls_certs(args) -> int:
    from openrcm_devstack.tls import CertificateAuthority

    if (args.directory / "ca.crt").exists():
        # Idempotent, so a compose one-shot can run it on every `up`: the certificates the
        # servers and clients already use stay as they are.
        print(f"{args.directory} already holds certificates: kept (remove it to make new ones)")
        return 0
    owners = dict(owner.split("=", 1) for owner in args.owner or ())
    authority = CertificateAuthority.create(args.directory)
    print(f"CA          {authority.cert_file}")
    for server in args.server or DEFAULT_TLS_SERVERS:
        name, _, hosts = server.partition("=")
        issued = authority.issue(name, hosts.split(",") if hosts else [name])
        if name in owners:  # the key belongs to the user the server runs as (PostgreSQL insists)
            uid, _, gid = owners[name].partition(":")
            for private in (issued.key_file, issued.keystore_file):
                os.chown(private, int(uid), int(gid or uid))
        print(f"{name:<14} {issued.cert_file}  {issued.key_file}  {issued.keystore_file}")
    if args.discard_ca_key:
        (args.directory / "ca.key").unlink()  # nothing that reads this folder can sign a certificate
    return 0


# The compose file's TLS override (docker-compose.tls.yml): each container by its name on the
# compose network, and localhost for what the host reaches through published ports.
DEFAULT_TLS_SERVERS = [f"{name}={name},localhost,127.0.0.1" for name in (
    "kafka", "postgres", "claims", "claims-worker", "claims-relay", "eligibility", "remittance", "denials", "collections",
    "clearinghouse")]
def cmd_audit_verify(args) -> int:
    from openrcm_devstack import audit

    return audit.verify(audit.databases_to_verify(args.database_url, local_dir() / "stack.json"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openrcm-stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (default: the running stack's)")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start everything in the foreground")
    run.add_argument("--fresh", action="store_true", help="discard the local data first")
    run.set_defaults(func=cmd_run)

    ev = commands.add_parser("events", help="event stream tools").add_subparsers(dest="events_command", required=True)
    tail = ev.add_parser("tail", help="follow every topic, one line per event")
    tail.add_argument("--type", action="append", help="only types containing this text (repeatable)")
    tail.add_argument("--claim", help="only events about this claim id")
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--limit", type=int, help="stop after this many events")
    tail.add_argument("--idle-timeout", type=float, help="stop after this many quiet seconds")
    tail.set_defaults(func=cmd_events_tail)

    dlq = commands.add_parser("dlq", help="dead-letter queues").add_subparsers(dest="dlq_command", required=True)
    dlq.add_parser("list", help="list every dead letter").set_defaults(func=cmd_dlq_list)
    rp = dlq.add_parser("replay", help="re-publish dead letters to their original topic")
    rp.add_argument("topic", help="the DLQ topic, e.g. rcm.remittance.events.v1.claims.dlq")
    rp.add_argument("--offset", type=int, action="append", help="only this offset (repeatable)")
    rp.set_defaults(func=cmd_dlq_replay)
    sk = dlq.add_parser("skip", help="never apply these dead letters; their key's later events can then be replayed")
    sk.add_argument("topic", help="the DLQ topic, e.g. rcm.remittance.events.v1.collections.dlq")
    sk.add_argument("--offset", type=int, action="append", required=True, help="the dead letter's offset (repeatable)")
    sk.set_defaults(func=cmd_dlq_skip)

    commands.add_parser("topics", help="create/update topics from deploy/topics.toml").set_defaults(func=cmd_topics)

    token = commands.add_parser("token", help="print an access token for a demo client of the running stack")
    token.add_argument("client_id", nargs="?", default="demo-billing")
    token.set_defaults(func=cmd_token)

    code_sets = commands.add_parser("codesets", help="CMS code-set files in the running claims service")
    code_set_commands = code_sets.add_subparsers(dest="codesets_command", required=True)
    imports = code_set_commands.add_parser(
        "import", help="import CMS files (HCPCS, NCCI PTP, MUE, ICD-10-CM order files, or CMS's zips of them)")
    imports.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imports.add_argument("--kind", choices=["hcpcs", "ptp_practitioner", "ptp_hospital", "mue_practitioner",
                                            "mue_hospital", "icd10cm_order"],
                         help="which code set (default: told from CMS's file name)")
    imports.add_argument("--effective-date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                         help="first day in force (default: from the file name)")
    listing = code_set_commands.add_parser("list", help="the code sets imported and which are in force")
    for command in (imports, listing):
        who = command.add_mutually_exclusive_group()
        who.add_argument("--client", default="platform-operations",
                         help="a demo client of the running stack (default: %(default)s)")
        who.add_argument("--token", help="an access token with codesets:admin (import) or claims:read (list)")
    imports.set_defaults(func=cmd_codesets_import)
    listing.set_defaults(func=cmd_codesets_list)

    acls = commands.add_parser("kafka-acls", help="the services' Kafka SCRAM users and ACLs (from deploy/topics.toml)")
    acls.add_argument("--apply", action="store_true",
                      help="create them on the cluster as the admin (KAFKA_SASL_USERNAME), passwords from "
                           "<SERVICE>_KAFKA_SASL_PASSWORD; without it: print kafka-configs.sh/kafka-acls.sh commands")
    acls.add_argument("--command-config", default="admin.properties",
                      help="the admin's client properties file the printed commands name")
    acls.set_defaults(func=cmd_kafka_acls)

    certs = commands.add_parser("tls-certs", help="a throwaway CA and server certificates (for trying TLS locally)")
    certs.add_argument("directory", type=Path, help="where to write ca.crt and <name>.crt/.key/.pem")
    certs.add_argument("--server", action="append", metavar="NAME=HOST,HOST",
                       help="a certificate NAME for these DNS names or addresses (repeatable; default: the "
                            "compose file's containers)")
    certs.add_argument("--owner", action="append", metavar="NAME=UID[:GID]",
                       help="give NAME's private key to this user (repeatable; needs root)")
    certs.add_argument("--discard-ca-key", action="store_true", help="delete the CA's key once the certificates exist")
    certs.set_defaults(func=cmd_tls_certs)
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="recompute every practice's audit hash chain in every service "
                                             "database; exit 1 naming the first broken link")
    verify.add_argument("--database-url", action="append",
                        help="a database to check, as NAME=URL or URL (repeatable; default: the running stack's)")
    verify.set_defaults(func=cmd_audit_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
