"""`clinisight-trace`: run the handlers locally on an event file and show the trace.

    clinisight-trace invoke orchestrator examples/events/epic_created_direct.json --out out/run

AWS is served by moto in process, Jira by a stand-in on 127.0.0.1 seeded with the issue that
the event carries, and Sentry by an envelope sink on 127.0.0.1 unless `--sentry-dsn` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_HANDLER_ERROR = 1
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinisight-trace",
        description="Run the Lambda handlers locally with tracing, with no cloud account.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser(
        "invoke",
        help="invoke a function on an event file and print its trace",
        description="Invoke a function on an event, deliver the async invocations it makes, "
        "and print the trace tree and a summary.",
    )
    invoke.add_argument("function", choices=["orchestrator"], help="the function to invoke")
    invoke.add_argument("event_file", type=Path, help="a JSON file holding the Lambda event")
    invoke.add_argument("--out", type=Path, metavar="DIR",
                        help="write spans.jsonl and sentry.jsonl into DIR")
    invoke.add_argument("--sentry-dsn", metavar="URL",
                        help="send Sentry events to this DSN (a real Sentry or Spotlight) instead of "
                        "the local sink; defaults to SENTRY_DSN when set")
    invoke.add_argument("--otlp-endpoint", metavar="URL",
                        help="also export spans over OTLP/HTTP to this collector base URL, "
                        "for example http://localhost:4318")
    invoke.add_argument("--endpoint-url", metavar="URL",
                        help="send AWS calls to this endpoint, for example LocalStack at http://localhost:4566, "
                        "instead of moto in process; the agent still runs in this process")
    invoke.add_argument("--dynamodb-latency-ms", type=_non_negative_float, default=0.0, metavar="N",
                        help="add N milliseconds to every DynamoDB call (default 0)")
    invoke.add_argument("-v", "--verbose", action="store_true", help="log at INFO level to stderr")

    scan = commands.add_parser(
        "scan",
        help="audit captured output for PHI",
        description="Scan span JSON lines, Sentry envelopes or log files for PHI. Each finding is "
        "printed as file, line, kind and field, never the value. Exits with 1 when anything is found.",
    )
    scan.add_argument("paths", type=Path, nargs="+", metavar="PATH",
                      help="a file, or a directory whose files are all scanned")

    collector = commands.add_parser(
        "collector-config",
        help="regenerate the collector's redaction settings from the PHI policy",
        description="Rewrite the generated block of collector-config/gateway.yaml from the in-process "
        "PHI policy. With --check, change nothing and exit with 1 when the file is out of date.",
    )
    collector.add_argument("--file", type=Path, default=Path("collector-config/gateway.yaml"),
                           help="the gateway configuration (default: collector-config/gateway.yaml)")
    collector.add_argument("--check", action="store_true", help="only check; exit with 1 when out of date")

    build = commands.add_parser(
        "build",
        help="build the Lambda deployment artifact",
        description="Build one zip with the project and its pinned dependencies for the python3.11 "
        "x86_64 Lambda runtime. The same sources and constraints give the same bytes.",
    )
    build.add_argument("--out", type=Path, default=Path("dist/clinisight-lambda.zip"),
                       help="where to write the zip (default: dist/clinisight-lambda.zip)")

    collector_env = commands.add_parser(
        "collector-env",
        help="print the gateway collector's Sentry settings for a DSN",
        description="Print SENTRY_OTLP_TRACES_ENDPOINT and SENTRY_OTLP_AUTH_HEADER for a Sentry DSN, "
        "as lines for an .env file.",
    )
    collector_env.add_argument("--sentry-dsn", required=True, metavar="URL", help="the project's Sentry DSN")
    return parser


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of milliseconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("expected a number of milliseconds, 0 or more")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "scan":
        return _scan(args.paths)
    if args.command == "collector-config":
        return _collector_config(args.file, check=args.check)
    if args.command == "collector-env":
        return _collector_env(args.sentry_dsn)
    if args.command == "build":
        return _build(args.out)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        event = _load_event(args.event_file)
    except ValueError as error:
        print(f"clinisight-trace: {error}", file=sys.stderr)
        return EXIT_USAGE
    return _invoke(args, event)


def _scan(paths: list[Path]) -> int:
    from telemetry.scan import scan_paths

    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        print(f"clinisight-trace: not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    findings = 0
    for finding in scan_paths(paths):
        print(finding)
        findings += 1
    print(f"{findings} finding{'' if findings == 1 else 's'} in {len(paths)} path{'' if len(paths) == 1 else 's'}",
          file=sys.stderr)
    return EXIT_FINDINGS if findings else EXIT_OK


def _collector_config(path: Path, *, check: bool) -> int:
    from telemetry.collector import sync

    try:
        changed = sync(path, check=check)
    except (OSError, ValueError) as error:
        print(f"clinisight-trace: cannot update {path}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if changed and check:
        print(f"{path} is out of date; run `clinisight-trace collector-config`", file=sys.stderr)
        return EXIT_FINDINGS
    print(f"{path} {'updated' if changed else 'is up to date'}", file=sys.stderr)
    return EXIT_OK


def _build(output: Path) -> int:
    import subprocess

    from handlers.local.artifact import build

    source = Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").exists():
        print("clinisight-trace: build runs from a checkout of the repository", file=sys.stderr)
        return EXIT_USAGE
    print(f"Building {output} (installs the pinned dependencies; about a minute)", file=sys.stderr)
    try:
        artifact = build(source, output)
    except subprocess.CalledProcessError as error:
        print(f"clinisight-trace: pip failed with status {error.returncode}", file=sys.stderr)
        return EXIT_HANDLER_ERROR
    print(f"{artifact.path}  {artifact.size_bytes / 1_048_576:.1f} MiB  sha256 {artifact.sha256}")
    return EXIT_OK


def _collector_env(dsn: str) -> int:
    from telemetry.collector import sentry_otlp_settings

    try:
        settings = sentry_otlp_settings(dsn)
    except ValueError as error:
        print(f"clinisight-trace: {error}", file=sys.stderr)
        return EXIT_USAGE
    for name, value in settings.items():
        print(f"{name}={value}")
    return EXIT_OK


def _load_event(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"event file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read event file {path}: {type(exc).__name__}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"event file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def _invoke(args: argparse.Namespace, event: Any) -> int:
    import os

    # Imported here so that --help and usage errors stay fast.
    from handlers.local import report
    from handlers.local.runner import LocalRun

    sentry_dsn = args.sentry_dsn or os.environ.get("SENTRY_DSN") or None
    with LocalRun(sentry_dsn=sentry_dsn, otlp_endpoint=args.otlp_endpoint,
                  dynamodb_latency_ms=args.dynamodb_latency_ms, aws_endpoint_url=args.endpoint_url) as run:
        run.seed_jira_from_event(event)
        results = run.invoke(f"clinisight-{args.function}", event)
        spans = run.spans()
        envelopes = run.sentry_sink.envelopes() if run.sentry_sink else None

    print(report.render_trees(spans))
    print()
    for result in results:
        if result.error is not None:
            print(f"{result.function_name}: raised {type(result.error).__name__}: {result.error}")
        else:
            print(f"{result.function_name}: returned {json.dumps(result.response, default=str)}")
    print()
    print(report.render_summary(spans, envelopes))

    if args.out is not None:
        span_count = report.write_jsonl(args.out / "spans.jsonl", (report.span_to_dict(s) for s in spans))
        print(f"Wrote {span_count} spans to {args.out / 'spans.jsonl'}")
        if envelopes is not None:
            item_count = report.write_jsonl(args.out / "sentry.jsonl", report.envelope_item_records(envelopes))
            print(f"Wrote {item_count} Sentry envelope items to {args.out / 'sentry.jsonl'}")
    return EXIT_HANDLER_ERROR if any(r.error is not None for r in results) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
