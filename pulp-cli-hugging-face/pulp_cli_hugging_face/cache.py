from gettext import gettext as _

import click
from pulp_cli.generic import PulpCLIContext, pass_pulp_context, pulp_group
from pulp_glue.hugging_face.context import PulpHuggingFaceCacheContext, PulpHuggingFaceRemoteContext

from pulp_cli_hugging_face.options import remote_option


@pulp_group()
def cache() -> None:
    """What the cache holds."""


@cache.command()
@remote_option(_("Only this remote's cache (by name or href); default: the whole domain."))
@click.option("--top", type=click.IntRange(1, 100), help=_("How many repos to list by size."))
@pass_pulp_context
def stats(
    pulp_ctx: PulpCLIContext, /, remote: PulpHuggingFaceRemoteContext | None, top: int | None
) -> None:
    """Stored files and bytes, and the repos that take the most space."""
    if remote:
        result = remote.cache_stats(top=top)
    else:
        result = PulpHuggingFaceCacheContext(pulp_ctx).stats(top=top)
    pulp_ctx.output_result(result)
