"""`openrcm-stack`: run the stack, follow its events, inspect and replay dead letters.

    openrcm-stack run                      everything, in the foreground; Ctrl-C stops it all
    openrcm-stack events tail [--type T] [--claim ID] [--from-beginning]
    openrcm-stack dlq list
    openrcm-stack dlq replay TOPIC [--offset N ...]
    openrcm-stack topics                   create/update topics from deploy/topics.toml
    openrcm-stack audit verify [--database-url [NAME=]URL ...]   check every audit hash chain
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

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
            shows = "health and metrics" if service.role == "worker" else f"docs {service.url}/docs"
            _say(f"  {name:<13} {service.url}   ({shows})")
        _say(f"  clearinghouse simulator {stack.clearinghouse_url}")
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


def cmd_topics(args) -> int:
    from openrcm_devstack.topics import ensure_topics

    for name, action in ensure_topics(_bootstrap(args)).items():
        print(f"{action:<10} {name}")
    return 0


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

    commands.add_parser("topics", help="create/update topics from deploy/topics.toml").set_defaults(func=cmd_topics)

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
