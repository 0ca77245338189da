from gettext import gettext as _

import click
from pulp_cli.generic import (
    common_remote_update_options,
    create_command,
    destroy_command,
    href_option,
    label_command,
    list_command,
    name_option,
    pulp_group,
    pulp_option,
    remote_filter_options,
    remote_lookup_option,
    show_command,
    type_option,
    update_command,
)
from pulp_glue.hugging_face.context import PulpHuggingFaceRemoteContext

from .tokens import secret_callback


@pulp_group()
@type_option(choices={"hugging_face": PulpHuggingFaceRemoteContext})
def remote() -> None:
    """Upstream Hugging Face hubs (huggingface.co or a compatible server)."""


hugging_face_remote_options = [
    pulp_option(
        "--policy",
        type=click.Choice(["on_demand", "streamed"], case_sensitive=False),
        help=_("'on_demand' stores every file fetched through the cache; 'streamed' stores none."),
    ),
    pulp_option(
        "--hf-token",
        callback=secret_callback,
        help=_(
            "The hub access token: '@FILE' reads it from a file ('@-' from stdin), '-' asks for "
            "it without echo. Write-only: never shown by the server."
        ),
    ),
    pulp_option(
        "--metadata-ttl",
        type=click.IntRange(0),
        help=_("Seconds a branch/tag -> commit answer is reused (default 300)."),
    ),
    pulp_option(
        "--metadata-timeout",
        type=click.FloatRange(0.5, 300),
        help=_("Seconds to wait for an upstream metadata answer (default 8)."),
    ),
]
create_options = [
    click.option("--name", required=True),
    *common_remote_update_options,  # --url is optional: it defaults to https://huggingface.co
    *hugging_face_remote_options,
]
lookup_options = [href_option, name_option, remote_lookup_option]
update_options = [
    *lookup_options,
    *common_remote_update_options,
    *hugging_face_remote_options,
    click.option(
        "--no-hf-token",
        is_flag=True,
        default=None,
        help=_("Remove the remote's hub token."),
    ),
]

remote.add_command(list_command(decorators=remote_filter_options))
remote.add_command(show_command(decorators=lookup_options))
remote.add_command(create_command(decorators=create_options))
remote.add_command(update_command(decorators=update_options))
remote.add_command(destroy_command(decorators=lookup_options))
remote.add_command(label_command(decorators=[remote_lookup_option]))
