from gettext import gettext as _

import click
from pulp_cli.generic import (
    content_filter_options,
    href_option,
    list_command,
    pulp_group,
    pulp_option,
    show_command,
    type_option,
)
from pulp_glue.hugging_face.context import REPO_TYPES, PulpHuggingFaceContentContext


@pulp_group()
@type_option(choices={"hugging_face": PulpHuggingFaceContentContext})
def content() -> None:
    """Files stored by the cache (read-only: content arrives by pull-through or prefetch)."""


filter_options = [
    *content_filter_options,
    pulp_option("--repo-type", type=click.Choice(REPO_TYPES), help=_("model, dataset or space")),
    pulp_option("--repo-id", help=_("The Hub repo id, e.g. 'org/name'.")),
    pulp_option("--commit", help=_("The 40-hex commit.")),
    pulp_option("--path", help=_("The file's path in the repo.")),
    pulp_option("--sha256"),
]

content.add_command(list_command(decorators=filter_options))
content.add_command(show_command(decorators=[href_option]))
