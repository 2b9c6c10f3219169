"""The CLI's commands: one ``cmd_<group>_<name>(args, settings)`` per subcommand."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from dlexplain.config import Settings, environment
from dlexplain.errors import DlexplainError

DEFAULT_DAYS = 3


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
    print(
        f"gate {report['gate']} on {report['figures']['held_out_texts']:.0f} held-out texts"
        + (f": {'; '.join(report['failures'])}" if report["failures"] else "")
    )
    print(json.dumps({"figures": report["figures"], "reference": report["reference"]}, indent=2))


def cmd_model_path(args, settings: Settings) -> None:
    from dlexplain.defaults import default_model_dir

    print(default_model_dir(settings.paths.cache_dir))


def cmd_data_build_default(args, settings: Settings) -> None:
    from dlexplain.defaults import build_default_data

    end = args.end or date.today()
    start = args.start or end - timedelta(days=DEFAULT_DAYS - 1)
    paths = build_default_data(
        settings.paths.cache_dir,
        args.data_dir or settings.paths.data_dir,
        start,
        end,
        rows_per_day=args.rows_per_day,
    )
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
    print(json.dumps({"output": str(args.output), **summary.to_json_dict()}, indent=2))


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
    from dlexplain.model.lookup import registered_explainer
    from dlexplain.serving.redeploy import redeploy_target, serving_target

    if args.version or args.alias:
        if not args.registered_model:
            raise DlexplainError("--version/--alias need --registered-model")
        target = registered_explainer(args.registered_model, args.version, args.alias)
        assert target is not None  # a version or alias is named: ModelError when it is missing
    else:
        classifier = args.classifier or settings.eaas.classifier
        target = serving_target(classifier, args.registered_model)
        if target is None:
            raise DlexplainError(
                f"no explainer of {classifier!r} is registered; run "
                "explain_reviews with it as source_model first"
            )
    deployment = redeploy_target(target, settings)
    print(
        f"explainer {target.registered_model} version {deployment.version} "
        f"(run {deployment.run_id}) serves at {deployment.url}/invocations"
    )


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
    paths = build_default_data(
        settings.paths.cache_dir,
        settings.paths.data_dir,
        end - timedelta(days=DEFAULT_DAYS - 1),
        end,
    )
    print(f"demo partitions: {', '.join(p.name for p in paths)} under {paths[0].parent}")


def cmd_stack_preflight(args, settings: Settings) -> None:
    from dlexplain.stack_env import problems

    found = problems(environment())
    if found:
        raise DlexplainError(
            "the stack's environment is not safe to start:\n  " + "\n  ".join(found)
        )
    print("preflight: the stack's environment is complete and its secrets are set")


def cmd_stack_mlflow_users(args, settings: Settings) -> None:
    import mlflow

    from dlexplain.tracking.users import (
        PIPELINE_USER,
        STACK_USERS,
        ensure_pipeline_resources,
        ensure_users,
    )

    env = environment()
    missing = [var for var in STACK_USERS.values() if not env.get(var)]
    if missing:
        raise DlexplainError(f"set {', '.join(missing)} (the MLflow users' passwords)")
    passwords = {user: env[var] for user, var in STACK_USERS.items()}
    created = ensure_users(mlflow.get_tracking_uri(), passwords)
    from dlexplain.model.fast_runs import fast_name
    from dlexplain.model.registry import DEFAULT_REGISTERED_EXPLAINER
    from dlexplain.model.source_model import DEFAULT_REGISTERED_CLASSIFIER

    models = [
        DEFAULT_REGISTERED_CLASSIFIER,
        DEFAULT_REGISTERED_EXPLAINER,
        fast_name(DEFAULT_REGISTERED_EXPLAINER),
    ]
    owned = ensure_pipeline_resources(mlflow.get_tracking_uri(), passwords[PIPELINE_USER], models)
    print(
        f"MLflow users ready: {', '.join(STACK_USERS)} (created: {', '.join(created) or 'none'}); "
        f"owned by {PIPELINE_USER}: {', '.join(owned)}"
    )


def cmd_eaas_serve(args, settings: Settings) -> None:
    from dlexplain.serving.app import serve

    serve(args.model_uri, args.host or settings.eaas.host, args.port)


def cmd_eaas_front(args, settings: Settings) -> None:
    from dlexplain.model.request_limits import RequestLimits
    from dlexplain.serving.deployment import DeploymentState
    from dlexplain.serving.front import serve_front

    limits = RequestLimits.from_settings(settings)
    serve_front(
        DeploymentState(settings.eaas.state_path),
        args.host or settings.eaas.host,
        args.port,
        timeout=limits.timeout + 30,
        max_body=limits.max_body,
        # the scoring server admits max_in_flight; a few more wait in its 503 path
        max_in_flight=4 * limits.max_in_flight,
    )


def cmd_eaas_status(args, settings: Settings) -> None:
    from dlexplain.serving.deployment import DeploymentState

    state = DeploymentState(settings.eaas.state_path)
    active = state.active()
    print(
        json.dumps(
            {"active": active.to_json_dict() if active else None, "history": state.history()[-5:]},
            indent=2,
        )
    )


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
    classifier = TextClassifier.from_pretrained(
        path, device=settings.run.device, backend=config.backend
    )
    return Explainer(classifier, config)
