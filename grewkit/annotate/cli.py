"""``grewkit annotate serve|candidates|push|pull|status``."""

from __future__ import annotations

import json
import signal
import sys
import time

import click
from rich.markup import escape

from grewkit.cli.options import project_option
from grewkit.core.progress import console


def _connection_options(fn):
    fn = click.option(
        "--document-root",
        default=None,
        type=click.Path(file_okay=False),
        envvar="GREWKIT_LABEL_STUDIO_DOCUMENT_ROOT",
        help="Local-files document root of an existing server (default: the project's own server; "
        "$GREWKIT_LABEL_STUDIO_DOCUMENT_ROOT).",
    )(fn)
    fn = click.option(
        "--api-key",
        default=None,
        envvar="GREWKIT_LABEL_STUDIO_API_KEY",
        help="Legacy token or personal access token of an existing server ($GREWKIT_LABEL_STUDIO_API_KEY).",
    )(fn)
    fn = click.option(
        "--url",
        default=None,
        envvar="GREWKIT_LABEL_STUDIO_URL",
        help="URL of an existing Label Studio (default: the one `annotate serve` started).",
    )(fn)
    fn = click.option("--campaign", default=None, help="Annotation run name (default: [annotate] campaign).")(fn)
    return fn


@click.group("annotate")
def annotate_group():
    """Cross-camera identity linking and attributes in a real Label Studio.

    \b
    A campaign:
      make label-studio                          # once: Label Studio's own venv
      grewkit annotate serve --detach            # local server, admin and token made for you
      grewkit annotate candidates                # rank cross-camera candidates (no labels needed)
      grewkit annotate push                      # media, project, tasks with predictions
      ... annotators work in the browser ...
      grewkit annotate pull                      # annotations -> identities, conflicts, next round
      grewkit annotate push                      # the next round (adjudications, second looks, audits)
      ... until pull says the campaign is closed ...
      grewkit annotate status                    # round, open questions, estimate of what is left
    """


@annotate_group.command("serve")
@project_option
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--detach", is_flag=True, help="Start in the background and return once it answers.")
@click.option("--stop", is_flag=True, help="Stop the detached server of this project.")
@click.option("--url", default=None, help="Do not start anything: check that this existing server answers.")
@click.option("--api-key", default=None, envvar="GREWKIT_LABEL_STUDIO_API_KEY", help="API key of the existing server.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for /health.")
def serve_command(project, port, detach, stop, url, api_key, timeout):
    """Start a local Label Studio bound to 127.0.0.1 serving this project's media.

    The admin account and API token are generated at the first start and kept (mode 0600) in
    PROJECT/annotation/server/; they are never printed. Sign-up is closed, analytics and
    version checks are off. The first start migrates its database (about a minute).

    \b
    Examples:
      grewkit annotate serve                # foreground, Ctrl-C stops it
      grewkit annotate serve --detach       # background; later: grewkit annotate serve --stop
      grewkit annotate serve --url http://lab-server:8080 --api-key ...   # use an existing server
    """
    from grewkit.annotate.runs import server_dir
    from grewkit.annotate.server import LabelStudioServer, running_server, stop_detached

    data_dir = server_dir(project)
    if stop:
        click.echo("stopped" if stop_detached(data_dir) else "no running server for this project")
        return
    if url:
        from grewkit.annotate.backends.labelstudio import LabelStudioClient

        client = LabelStudioClient(url, api_key or "")
        user = client.call("who am I", client.sdk.users.whoami)
        click.echo(f"{url} answers; logged in as {user.email or user.username}")
        return
    state = running_server(data_dir)
    if state:
        click.echo(f"already running: {state['url']} (pid {state['pid']})")
        return
    server = LabelStudioServer(data_dir, document_root=project.root, port=port)
    console.print(f"starting Label Studio (data in {escape(str(data_dir))}; first start migrates, about a minute) ...")
    server.start(timeout=timeout)
    click.echo(
        f"Label Studio is up: {server.url}  (log in as {server.credentials.username}; "
        f"password and token in {data_dir}/grewkit-credentials.json)"
    )
    if detach:
        server.process = None  # leave it running; `serve --stop` ends it
        return
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while server.process.poll() is None:
            time.sleep(1)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


@annotate_group.command("candidates")
@project_option
@click.option("--quiet", is_flag=True, help="No progress bars.")
def candidates_command(project, quiet):
    """Rank, for every kept tracklet, the K most similar tracklets of other cameras.

    Similarities need no hand labels: colour of upper and lower body, and gait energy images
    when the render stage has made them, combined by [annotate] weights, gated by camera
    topology and time. Writes manifests/candidates.parquet, and manifests/neighbours.parquet:
    the pieces of one video that may be one walk ([annotate] neighbour_gap_s), scored alike.

    \b
    Example:
      grewkit annotate candidates --project campus
    """
    from grewkit.annotate.campaign import compute_candidates

    table = compute_candidates(project, show_progress=not quiet)
    queries = len(set(table.column("query_tracklet_id").to_pylist()))
    pairs = project.read("neighbours", ["first_tracklet_id"]).num_rows
    click.echo(f"{table.num_rows} candidates for {queries} query tracklets; {pairs} neighbour pairs")


@annotate_group.command("push")
@project_option
@_connection_options
@click.option("--force", is_flag=True, help="Also replace the candidates of tasks that already have answers.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def push_command(project, campaign, url, api_key, document_root, force, quiet):
    """Render annotator media and create or update the current round's tasks on the server.

    Round 1 has one task per query tracklet; later rounds are what the last pull planned. Idempotent:
    each task's key is stable (round 1: its query tracklet), so a re-push (also after a crash or a
    server restart, or of a round still open) never duplicates a task and updates changed ones in place.

    \b
    Example:
      grewkit annotate push --project campus
    """
    from grewkit.annotate.campaign import open_backend, push

    backend, run = open_backend(project, url=url, api_key=api_key, document_root=document_root, campaign=campaign)
    result = push(project, backend, run, force=force, show_progress=not quiet)
    click.echo(f"{run.url}/projects/{run.project_id}: {result.line()}")


@annotate_group.command("pull")
@project_option
@_connection_options
@click.option("--full", is_flag=True, help="Fetch every task, not only those changed since the last pull.")
def pull_command(project, campaign, url, api_key, document_root, full):
    """Fetch annotations, store them losslessly, and resolve identities and attributes.

    Incremental: only tasks changed since the last pull (their updated_at) are exported;
    --full fetches everything and also notices annotations deleted on the server.

    Contradictions (A=B, B=C but A!=C; two tracklets of one camera at the same time in one
    identity; tied votes) are listed in annotation/reports/CAMPAIGN.json and their tracklets
    held out, never merged, until an adjudication settles them. When the round's tasks are all
    answered, the next round is planned (annotation/rounds/CAMPAIGN.json) for `annotate push`.

    \b
    Example:
      grewkit annotate pull --project campus
    """
    from grewkit.annotate.campaign import open_backend, pull

    backend, run = open_backend(project, url=url, api_key=api_key, document_root=document_root, campaign=campaign)
    summary = pull(project, backend, run, full=full)
    click.echo(summary.line())
    for line in summary.report.get("rejected_answers", [])[:20]:
        console.print(f"[red]rejected[/red] {escape(line)}", highlight=False)
    for conflict in summary.report["conflicts"][:20]:
        console.print(
            f"[yellow]conflict[/yellow] {escape(conflict['kind'])}: {escape(conflict['detail'])}", highlight=False
        )


@annotate_group.command("status")
@project_option
@_connection_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@click.option("--offline", is_flag=True, help="Do not ask the server; show only what the project records.")
def status_command(project, campaign, url, api_key, document_root, as_json, offline):
    """Tasks pushed, done, skipped and conflicting; the round, open tasks and what is left to ask.

    \b
    Example:
      grewkit annotate status --project campus
    """
    from grewkit.annotate.campaign import open_backend, settings_of, status
    from grewkit.annotate.runs import AnnotationRun

    run = AnnotationRun.load(project, campaign or settings_of(project).campaign)
    backend = None
    if run is not None and not offline:
        backend, run = open_backend(project, url=url, api_key=api_key, document_root=document_root, campaign=run.key)
    info = status(project, backend, run)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")
