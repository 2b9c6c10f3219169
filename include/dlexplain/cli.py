"""``dlexplain …`` commands used by make, the DAGs and people."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date, timedelta
from pathlib import Path

from dlexplain.config import Settings, environment
from dlexplain.errors import DlexplainError

logger = logging.getLogger("dlexplain")

DEFAULT_DAYS = 3


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


def cmd_model_build_default(args, settings: Settings) -> None:
    from dlexplain.defaults import build_default_model

    built = build_default_model(settings.paths.cache_dir, force=args.force)
    state = "built" if built.built_now else "cached"
    print(f"default model ({state}): {built.path}")
    print(f"held-out accuracy: {built.accuracy:.4f}")


def cmd_model_build_default_fast(args, settings: Settings) -> None:
    from dlexplain.defaults.fast import build_default_fast

    built = build_default_fast(settings.paths.cache_dir, force=args.force)
    report = built.report
    print(f"default fast explainer ({'built' if built.built_now else 'cached'}): {built.path}")
    print(f"gate {report['gate']} on {report['figures']['held_out_texts']:.0f} held-out texts"
          + (f": {'; '.join(report['failures'])}" if report["failures"] else ""))
    print(json.dumps({"figures": report["figures"], "reference": report["reference"]}, indent=2))


def cmd_model_path(args, settings: Settings) -> None:
    from dlexplain.defaults import default_model_dir

    print(default_model_dir(settings.paths.cache_dir))


def cmd_data_build_default(args, settings: Settings) -> None:
    from dlexplain.defaults import build_default_data

    end = args.end or date.today()
    start = args.start or end - timedelta(days=DEFAULT_DAYS - 1)
    paths = build_default_data(settings.paths.cache_dir, args.data_dir or settings.paths.data_dir, start, end,
                               rows_per_day=args.rows_per_day)
    print(f"wrote {len(paths)} partitions under {paths[0].parent.parent}")


def cmd_explain(args, settings: Settings) -> None:
    from dlexplain.base.tables import read_table, write_table
    from dlexplain.explain.table import explain_table, read_explanations, summarize

    frame = read_table(args.input)
    if args.limit:
        frame = frame.head(args.limit)
    explainer = _engine(args, settings)
    table = explain_table(explainer, frame, args.text_column)
    write_table(table, args.output)
    summary = summarize(read_explanations(table))
    print(json.dumps({"output": str(args.output), **summary}, indent=2))


def cmd_report(args, settings: Settings) -> None:
    import mlflow

    from dlexplain.tracking.report import explanation_report

    report = explanation_report(mlflow.get_tracking_uri(), args.dag_id, args.logical_date)
    print(f"rows explained:        {report.rows} ({report.rows_failed} with errors)")
    print(f"explanations (Parquet): {report.output}")
    print(f"MLflow UI:              {report.tracking_uri}")
    print(f"explainer run:          {report.explainer_run_url}")
    print(f"explanation artifacts:  {report.explanation_run_url}")
    for url in report.bar_plots:
        print(f"bar plot:               {url}")
    for url in report.quality:
        print(f"night's quality:        {url}")


def cmd_mlflow_start(args, settings: Settings) -> None:
    from dlexplain.tracking.server import start_server

    server = start_server(settings.paths.home / "mlflow", port=args.port)
    print(server.url if args.print_uri else f"MLflow UI: {server.url} (pid {server.pid})")


def cmd_mlflow_stop(args, settings: Settings) -> None:
    from dlexplain.tracking.server import stop_server

    print("stopped" if stop_server(settings.paths.home / "mlflow") else "no server was running")


def cmd_eaas_deploy(args, settings: Settings) -> None:
    from dlexplain.serving.redeploy import redeploy_target, serving_target
    from dlexplain.tracking.registry import registered_explainer

    if args.version or args.alias:
        if not args.registered_model:
            raise DlexplainError("--version/--alias need --registered-model")
        target = registered_explainer(args.registered_model, args.version, args.alias)
    else:
        classifier = args.classifier or settings.eaas.classifier
        target = serving_target(classifier, args.registered_model)
        if target is None:
            raise DlexplainError(f"no explainer of {classifier!r} is registered; run "
                                 "explain_reviews with it as source_model first")
    deployment = redeploy_target(target, settings)
    print(f"explainer {target.registered_model} version {deployment.version} "
          f"(run {deployment.run_id}) serves at {deployment.url}/invocations")


def cmd_stack_env(args, settings: Settings) -> None:
    from dlexplain.stack_env import generate

    print(generate(Path(args.example).read_text()), end="")


def cmd_stack_init(args, settings: Settings) -> None:
    from dlexplain.defaults import build_default_data, build_default_model
    from dlexplain.defaults.seed import seed_cache

    if args.seed:
        for path in seed_cache(settings.paths.cache_dir, args.seed):
            print(f"copied from {args.seed}: {path}")
    model = build_default_model(settings.paths.cache_dir)
    print(f"default model: {model.path} (held-out accuracy {model.accuracy:.4f})")
    end = date.today()
    paths = build_default_data(settings.paths.cache_dir, settings.paths.data_dir,
                               end - timedelta(days=DEFAULT_DAYS - 1), end)
    print(f"demo partitions: {', '.join(p.name for p in paths)} under {paths[0].parent}")


def cmd_stack_preflight(args, settings: Settings) -> None:
    from dlexplain.stack_env import problems

    found = problems(environment())
    if found:
        raise DlexplainError("the stack's environment is not safe to start:\n  "
                             + "\n  ".join(found))
    print("preflight: the stack's environment is complete and its secrets are set")


def cmd_stack_mlflow_users(args, settings: Settings) -> None:
    import mlflow

    from dlexplain.tracking.users import (PIPELINE_USER, STACK_USERS, ensure_pipeline_resources,
                                          ensure_users)

    env = environment()
    missing = [var for var in STACK_USERS.values() if not env.get(var)]
    if missing:
        raise DlexplainError(f"set {', '.join(missing)} (the MLflow users' passwords)")
    passwords = {user: env[var] for user, var in STACK_USERS.items()}
    created = ensure_users(mlflow.get_tracking_uri(), passwords)
    owned = ensure_pipeline_resources(mlflow.get_tracking_uri(), passwords[PIPELINE_USER])
    print(f"MLflow users ready: {', '.join(STACK_USERS)} (created: {', '.join(created) or 'none'}); "
          f"owned by {PIPELINE_USER}: {', '.join(owned)}")


def cmd_eaas_serve(args, settings: Settings) -> None:
    from dlexplain.serving.app import serve

    serve(args.model_uri, args.host or settings.eaas.host, args.port)


def cmd_eaas_front(args, settings: Settings) -> None:
    from dlexplain.serving.deployment import DeploymentState
    from dlexplain.serving.front import serve_front
    from dlexplain.tracking.request_limits import RequestLimits

    limits = RequestLimits.from_settings(settings)
    serve_front(DeploymentState(settings.eaas.state_path), args.host or settings.eaas.host,
                args.port, timeout=limits.timeout + 30, max_body=limits.max_body,
                # the scoring server admits max_in_flight; a few more wait in its 503 path
                max_in_flight=4 * limits.max_in_flight)


def cmd_eaas_status(args, settings: Settings) -> None:
    from dlexplain.serving.deployment import DeploymentState

    state = DeploymentState(settings.eaas.state_path)
    active = state.active()
    print(json.dumps({"active": active.to_json_dict() if active else None,
                      "history": state.history()[-5:]}, indent=2))


def cmd_eaas_stop(args, settings: Settings) -> None:
    import mlflow

    from dlexplain.serving.redeploy import backend_from_settings

    stopped = backend_from_settings(mlflow.get_tracking_uri(), settings).undeploy()
    print(f"stopped explainer run {stopped.run_id}" if stopped else "nothing was deployed")


def _engine(args, settings: Settings):
    from dataclasses import replace

    from dlexplain.defaults import default_model_dir
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.engine import Explainer

    given = {"max_evals": args.max_evals, "max_tokens": args.max_tokens}
    config = replace(settings.explainer, **{k: v for k, v in given.items() if v is not None})
    path = args.model or default_model_dir(settings.paths.cache_dir)
    classifier = TextClassifier.from_pretrained(path, device=settings.run.device,
                                                backend=config.backend)
    return Explainer(classifier, config)


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
    build = _command(model, "build-default", "fine-tune the default model (once per machine)",
                     cmd_model_build_default)
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build = _command(model, "build-default-fast", "train the default model's fast explainer "
                     "from exact explanations of held-out reviews (once per machine; resumable)",
                     cmd_model_build_default_fast)
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    _command(model, "path", "print the default model folder", cmd_model_path)

    data = _group(groups, "data", "the default review partitions")
    build = _command(data, "build-default", "write daily partitions of held-out reviews",
                     cmd_data_build_default)
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
    start = _command(server, "start", "start it (state under $DLEXPLAIN_HOME/mlflow)",
                     cmd_mlflow_start)
    start.add_argument("--port", type=_positive)
    start.add_argument("--print-uri", action="store_true", help="print only the URI")
    _command(server, "stop", "stop it", cmd_mlflow_stop)

    stack = _group(groups, "stack", "the production stack (docker-compose.yaml)")
    env = _command(stack, "env", "print a .env with fresh secrets: dlexplain stack env > .env",
                   cmd_stack_env)
    env.add_argument("--example", default=".env.example", help="template (default: %(default)s)")
    _command(stack, "preflight", "check the stack's environment (placeholders, weak secrets, "
             "Fernet key, public BIND_ADDRESS); the compose preflight service runs it",
             cmd_stack_preflight)
    init = _command(stack, "init", "the default model and the demo partitions of the last "
                    f"{DEFAULT_DAYS} days (finished steps skipped)", cmd_stack_init)
    init.add_argument("--seed", type=Path, help="another dlexplain cache (e.g. a host's, "
                      "mounted): what it already built is copied instead of built again")
    _command(stack, "mlflow-users", "create (or update) the MLflow users of Airflow, Spark jobs "
             "and EaaS from MLFLOW_AIRFLOW/SPARK/EAAS_PASSWORD with their roles, and the "
             "experiments and registered models the pipeline owns, as the admin "
             "(MLFLOW_TRACKING_USERNAME/_PASSWORD)", cmd_stack_mlflow_users)

    eaas = _group(groups, "eaas", "the served explainer (DLEXPLAIN_EAAS_*)")
    deploy = _command(eaas, "deploy", "serve an explainer (blue/green): by default the newest "
                      "explainer of DLEXPLAIN_EAAS_CLASSIFIER (its gated fast explainer when "
                      "there is one)", cmd_eaas_deploy)
    deploy.add_argument("--classifier", help="serve the explainer of this classifier URI "
                        "(default: DLEXPLAIN_EAAS_CLASSIFIER)")
    deploy.add_argument("--registered-model", help="explainer's registered model "
                        "(default: <classifier name>-explainer)")
    pinned = deploy.add_mutually_exclusive_group()
    pinned.add_argument("--version", help="serve this version of --registered-model")
    pinned.add_argument("--alias", help="serve the version this alias of --registered-model "
                        "points at")
    serve = _command(eaas, "serve", "run one scoring server of an explainer in the foreground "
                     "(what deploy starts; limits: DLEXPLAIN_SERVE_*)", cmd_eaas_serve)
    serve.add_argument("--model-uri", required=True, help="models:/name/N, runs:/ID/explainer")
    serve.add_argument("--host", help="interface (default: DLEXPLAIN_EAAS_HOST)")
    serve.add_argument("--port", type=_positive, default=8000)
    front = _command(eaas, "front", "one address for clients: forward every request to the "
                     "deployed server (DLEXPLAIN_EAAS_STATE_PATH), switched by each redeploy",
                     cmd_eaas_front)
    front.add_argument("--host", help="interface (default: DLEXPLAIN_EAAS_HOST)")
    front.add_argument("--port", type=_positive, default=8000)
    _command(eaas, "status", "what is deployed, and the last deploys and rollbacks",
             cmd_eaas_status)
    _command(eaas, "stop", "stop the served explainer", cmd_eaas_stop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.func(args, Settings.from_env())
    except DlexplainError as err:
        print(f"dlexplain: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
