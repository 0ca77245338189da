"""pulp-cli commands of the pulp_hugging_face plugin: `pulp hugging-face ...`."""

import typing as t

import click
from pulp_cli.generic import pulp_group

from .cache import cache
from .content import content
from .content_guard import content_guard
from .distribution import distribution
from .remote import remote
from .repository import repository

__version__ = "0.1.0.dev0"


@pulp_group(name="hugging-face")
def hugging_face_group() -> None:
    """Pull-through cache of the Hugging Face Hub."""


def mount(main: click.Group, **kwargs: t.Any) -> None:
    for command in (remote, distribution, repository, content, content_guard, cache):
        hugging_face_group.add_command(command)
    main.add_command(hugging_face_group)
