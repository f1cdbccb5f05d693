"""`splade-lite push`: an export folder into the search cluster it was made for."""

from __future__ import annotations

from pathlib import Path

import click

from splade_lite.cli_errors import friendly
from splade_lite.cli_errors import log as _log
from splade_lite.cli_options import json_option, notes, print_json, quiet_option


@click.command()
@click.argument("export_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--url", default=None,
    help="The cluster: http(s)://HOST:PORT (OpenSearch: user and password in the URL, "
    "https://USER:PASSWORD@HOST:9200).",
)  # fmt: skip
@click.option(
    "--local", "local", default=None, type=click.Path(file_okay=False, path_type=Path),
    help="Qdrant only, instead of --url: load into qdrant-client's local mode in this folder "
    "(no server).",
)  # fmt: skip
@click.option(
    "--api-key", envvar="SPLADE_LITE_API_KEY", default=None,
    help="Elasticsearch or Qdrant API key [default: $SPLADE_LITE_API_KEY].",
)  # fmt: skip
@click.option(
    "--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
    help="Documents per bulk request.",
)  # fmt: skip
@click.option(
    "--retries", default=3, show_default=True, type=click.IntRange(0, 100),
    help="Tries again after a refused connection, a timeout or an overloaded cluster.",
)  # fmt: skip
@click.option(
    "--replace", is_flag=True,
    help="Delete an index or collection of that name first (else it is refused).",
)  # fmt: skip
@quiet_option
@json_option
@friendly
def push(export_dir, url, local, api_key, batch_size, retries, replace, quiet, as_json):
    """Load EXPORT_DIR (made by `export --format opensearch|elasticsearch|qdrant`) into its
    cluster: creates the index or collection, sends the documents in batches, checks the count.

    Needs the cluster's client: pip install 'splade-lite[clusters]'.
    """
    from dataclasses import asdict

    from splade_lite.clusters import push_export

    if url is None and local is None:
        raise click.UsageError("give --url (or, for a Qdrant export, --local FOLDER)")
    result = push_export(
        export_dir, url, local=local, api_key=api_key, batch_size=batch_size, retries=retries,
        replace=replace, log=None if as_json else notes(quiet),
    )  # fmt: skip
    if as_json:
        print_json(asdict(result))
    elif quiet:
        _log(f"{result.count} documents in {result.target} {result.name!r} at {result.where}")
