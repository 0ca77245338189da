"""Options several command groups share."""

from pulp_cli.generic import resource_option
from pulp_glue.hugging_face.context import PulpHuggingFaceRemoteContext


def remote_option(help, **kwargs):
    """`--remote`: a Hugging Face remote by name or href."""
    return resource_option(
        "--remote",
        default_plugin="hugging_face",
        default_type="hugging_face",
        context_table={"hugging_face:hugging_face": PulpHuggingFaceRemoteContext},
        href_pattern=PulpHuggingFaceRemoteContext.HREF_PATTERN,
        help=help,
        **kwargs,
    )
