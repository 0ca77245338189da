from gettext import gettext as _

import click
from pulp_cli.generic import (
    common_distribution_create_options,
    create_command,
    destroy_command,
    distribution_filter_options,
    distribution_lookup_option,
    href_option,
    label_command,
    list_command,
    name_option,
    pulp_group,
    pulp_labels_option,
    resource_option,
    show_command,
    type_option,
    update_command,
)
from pulp_glue.hugging_face.context import (
    PulpHuggingFaceDistributionContext,
    PulpHuggingFaceRepositoryContext,
    PulpHuggingFaceTokenContentGuardContext,
)

from pulp_cli_hugging_face import options


@pulp_group()
@type_option(choices={"hugging_face": PulpHuggingFaceDistributionContext})
def distribution() -> None:
    """Serve the Hub protocol: point HF_ENDPOINT at a distribution's base_url."""


remote_option = options.remote_option(
    _("The remote the cache pulls through, by name or href ('' to unset).")
)
repository_option = resource_option(
    "--repository",
    default_plugin="hugging_face",
    default_type="hugging_face",
    context_table={"hugging_face:hugging_face": PulpHuggingFaceRepositoryContext},
    href_pattern=PulpHuggingFaceRepositoryContext.HREF_PATTERN,
    help=_(
        "A repository: with --remote, pulled files are recorded in it; without, its latest "
        "version is served as is. By name or href ('' to unset)."
    ),
)
content_guard_option = resource_option(
    "--content-guard",
    default_plugin="hugging_face",
    default_type="token",
    context_table={"hugging_face:token": PulpHuggingFaceTokenContentGuardContext},
    href_pattern=PulpHuggingFaceTokenContentGuardContext.HREF_PATTERN,
    help=_("A token content guard, by name or href ('' to unset)."),
)
update_options = [
    remote_option,
    repository_option,
    click.option(
        "--version",
        type=int,
        help=_("Serve this version of --repository (frozen) instead of the latest."),
    ),
    content_guard_option,
    pulp_labels_option,
]
lookup_options = [href_option, name_option, distribution_lookup_option]

distribution.add_command(list_command(decorators=distribution_filter_options))
distribution.add_command(show_command(decorators=lookup_options))
distribution.add_command(
    create_command(decorators=common_distribution_create_options + update_options)
)
distribution.add_command(
    update_command(decorators=lookup_options + update_options + [click.option("--base-path")])
)
distribution.add_command(destroy_command(decorators=lookup_options))
distribution.add_command(label_command(decorators=[distribution_lookup_option]))
