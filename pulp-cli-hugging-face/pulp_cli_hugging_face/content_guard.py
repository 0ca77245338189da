from gettext import gettext as _

import click
from pulp_cli.generic import (
    create_command,
    destroy_command,
    href_option,
    list_command,
    name_option,
    pulp_group,
    pulp_option,
    show_command,
    type_option,
    update_command,
)
from pulp_glue.hugging_face.context import PulpHuggingFaceTokenContentGuardContext

from .tokens import secret_callback


@pulp_group(name="content-guard")
@type_option(choices={"token": PulpHuggingFaceTokenContentGuardContext})
def content_guard() -> None:
    """Token guards: clients must send one of the tokens (HF_TOKEN) to download."""


def token_option(required: bool) -> click.Option:
    return pulp_option(
        "--token",
        "tokens",
        multiple=True,
        required=required,
        callback=secret_callback,
        help=_(
            "A token clients may send: '@FILE' reads it ('@-' stdin), '-' asks without echo. "
            "Repeatable; on update the list replaces the old one. Stored as sha256 only."
        ),
    )


lookup_options = [href_option, name_option]
create_options = [
    click.option("--name", required=True),
    click.option("--description"),
    token_option(required=True),
]
update_options = [*lookup_options, click.option("--description"), token_option(required=False)]

content_guard.add_command(list_command(decorators=[click.option("--name")]))
content_guard.add_command(show_command(decorators=lookup_options))
content_guard.add_command(create_command(decorators=create_options))
content_guard.add_command(update_command(decorators=update_options))
content_guard.add_command(destroy_command(decorators=lookup_options))
