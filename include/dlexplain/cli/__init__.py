"""``dlexplain …`` commands used by make, the DAGs and people."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from dlexplain.cli.commands import (
    DEFAULT_DAYS,
    cmd_data_build_default,
    cmd_eaas_deploy,
    cmd_eaas_front,
    cmd_eaas_serve,
    cmd_eaas_status,
    cmd_eaas_stop,
    cmd_explain,
    cmd_mlflow_start,
    cmd_mlflow_stop,
    cmd_model_build_default,
    cmd_model_build_default_fast,
    cmd_model_path,
    cmd_report,
    cmd_stack_env,
    cmd_stack_init,
    cmd_stack_mlflow_users,
    cmd_stack_preflight,
)
from dlexplain.config import Settings
from dlexplain.errors import DlexplainError

logger = logging.getLogger("dlexplain")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from err


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from err
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 1")
    return number


def _max_evals(value: str) -> int:
    """A ``--max-evals`` value, by the rule of every other door (``ExplainerConfig``)."""
    from dlexplain.errors import ConfigError
    from dlexplain.explain.config import check_max_evals

    try:
        return check_max_evals(int(value), "--max-evals")
    except (ValueError, ConfigError) as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-evals", type=_max_evals, help="default: DLEXPLAIN_MAX_EVALS")
    parser.add_argument("--max-tokens", type=_positive, help="default: the model's limit")


def _group(groups, name: str, help: str):
    """A command group (``dlexplain <name> <action>``); its subparsers take the actions."""
    return groups.add_parser(name, help=help).add_subparsers(dest="action", required=True)


def _command(parent, name: str, help: str, func) -> argparse.ArgumentParser:
    """A command that runs ``func(args, settings)``."""
    command = parent.add_parser(name, help=help)
    command.set_defaults(func=func)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlexplain", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    groups = parser.add_subparsers(dest="group", required=True)

    model = _group(groups, "model", "the embedded default model")
    build = _command(
        model,
        "build-default",
        "fine-tune the default model (once per machine)",
        cmd_model_build_default,
    )
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build = _command(
        model,
        "build-default-fast",
        "train the default model's fast explainer "
        "from exact explanations of held-out reviews (once per machine; resumable)",
        cmd_model_build_default_fast,
    )
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    _command(model, "path", "print the default model folder", cmd_model_path)

    data = _group(groups, "data", "the default review partitions")
    build = _command(
        data, "build-default", "write daily partitions of held-out reviews", cmd_data_build_default
    )
    build.add_argument("--start", type=_day, help="first day (default: end - 2 days)")
    build.add_argument("--end", type=_day, help="last day (default: today)")
    build.add_argument("--rows-per-day", type=_positive, default=16)
    build.add_argument("--data-dir", type=Path, help="default: DLEXPLAIN_DATA_DIR")

    explain = _command(groups, "explain", "explain a table of texts into Parquet", cmd_explain)
    explain.add_argument("input", type=Path, help="Parquet, CSV or JSON-lines file")
    explain.add_argument("--output", type=Path, required=True, help="Parquet file to write")
    explain.add_argument("--text-column", default="text")
    explain.add_argument("--model", type=Path, help="HF model folder (default: the default model)")
    explain.add_argument("--limit", type=_positive, help="explain only the first N rows")
    _add_engine_options(explain)

    report = _command(groups, "report", "links to a DAG run's explanations in MLflow", cmd_report)
    report.add_argument("--dag-id", default="explain_reviews")
    report.add_argument("--logical-date", required=True, help="YYYY-MM-DD")

    server = _group(groups, "mlflow", "the local MLflow tracking server")
    start = _command(
        server, "start", "start it (state under $DLEXPLAIN_HOME/mlflow)", cmd_mlflow_start
    )
    start.add_argument("--port", type=_positive)
    start.add_argument("--print-uri", action="store_true", help="print only the URI")
    _command(server, "stop", "stop it", cmd_mlflow_stop)

    stack = _group(groups, "stack", "the production stack (docker-compose.yaml)")
    env = _command(
        stack, "env", "print a .env with fresh secrets: dlexplain stack env > .env", cmd_stack_env
    )
    env.add_argument("--example", default=".env.example", help="template (default: %(default)s)")
    _command(
        stack,
        "preflight",
        "check the stack's environment (placeholders, weak secrets, "
        "Fernet key, public BIND_ADDRESS); the compose preflight service runs it",
        cmd_stack_preflight,
    )
    init = _command(
        stack,
        "init",
        "the default model and the demo partitions of the last "
        f"{DEFAULT_DAYS} days (finished steps skipped)",
        cmd_stack_init,
    )
    init.add_argument(
        "--seed",
        type=Path,
        help="another dlexplain cache (e.g. a host's, "
        "mounted): what it already built is copied instead of built again",
    )
    _command(
        stack,
        "mlflow-users",
        "create (or update) the MLflow users of Airflow, Spark jobs "
        "and EaaS from MLFLOW_AIRFLOW/SPARK/EAAS_PASSWORD with their roles, and the "
        "experiments and registered models the pipeline owns, as the admin "
        "(MLFLOW_TRACKING_USERNAME/_PASSWORD)",
        cmd_stack_mlflow_users,
    )

    eaas = _group(groups, "eaas", "the served explainer (DLEXPLAIN_EAAS_*)")
    deploy = _command(
        eaas,
        "deploy",
        "serve an explainer (blue/green): by default the newest "
        "explainer of DLEXPLAIN_EAAS_CLASSIFIER (its gated fast explainer when "
        "there is one)",
        cmd_eaas_deploy,
    )
    deploy.add_argument(
        "--classifier",
        help="serve the explainer of this classifier URI (default: DLEXPLAIN_EAAS_CLASSIFIER)",
    )
    deploy.add_argument(
        "--registered-model",
        help="explainer's registered model (default: <classifier name>-explainer)",
    )
    pinned = deploy.add_mutually_exclusive_group()
    pinned.add_argument("--version", help="serve this version of --registered-model")
    pinned.add_argument(
        "--alias", help="serve the version this alias of --registered-model points at"
    )
    serve = _command(
        eaas,
        "serve",
        "run one scoring server of an explainer in the foreground "
        "(what deploy starts; limits: DLEXPLAIN_SERVE_*)",
        cmd_eaas_serve,
    )
    serve.add_argument("--model-uri", required=True, help="models:/name/N, runs:/ID/explainer")
    serve.add_argument("--host", help="interface (default: DLEXPLAIN_EAAS_HOST)")
    serve.add_argument("--port", type=_positive, default=8000)
    front = _command(
        eaas,
        "front",
        "one address for clients: forward every request to the "
        "deployed server (DLEXPLAIN_EAAS_STATE_PATH), switched by each redeploy",
        cmd_eaas_front,
    )
    front.add_argument("--host", help="interface (default: DLEXPLAIN_EAAS_HOST)")
    front.add_argument("--port", type=_positive, default=8000)
    _command(
        eaas, "status", "what is deployed, and the last deploys and rollbacks", cmd_eaas_status
    )
    _command(eaas, "stop", "stop the served explainer", cmd_eaas_stop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        args.func(args, Settings.from_env())
    except DlexplainError as err:
        print(f"dlexplain: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
