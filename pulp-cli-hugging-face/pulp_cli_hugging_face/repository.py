import typing as t
from gettext import gettext as _

import click
from pulp_cli.generic import (
    create_command,
    destroy_command,
    href_option,
    label_command,
    label_select_option,
    list_command,
    name_option,
    pass_pulp_context,
    pass_repository_context,
    pulp_group,
    pulp_labels_option,
    repository_href_option,
    repository_lookup_option,
    retain_checkpoints_option,
    retained_versions_option,
    show_command,
    type_option,
    update_command,
    version_command,
)
from pulp_glue.common.context import EntityFieldDefinition
from pulp_glue.hugging_face.context import (
    REPO_TYPES,
    PulpHuggingFaceRepositoryContext,
)

from pulp_cli_hugging_face import options


@pulp_group()
@type_option(choices={"hugging_face": PulpHuggingFaceRepositoryContext})
def repository() -> None:
    """Repositories: versions of what was pulled through or prefetched."""


remote_option = options.remote_option(_("A Hugging Face remote, by name or href."))
update_options = [
    click.option("--description"),
    remote_option,
    retained_versions_option,
    retain_checkpoints_option,
    pulp_labels_option,
]
lookup_options = [href_option, name_option, repository_lookup_option]
nested_lookup_options = [repository_href_option, repository_lookup_option]

repository.add_command(
    list_command(
        decorators=[label_select_option, click.option("--name-startswith", "name__startswith")]
    )
)
repository.add_command(show_command(decorators=lookup_options))
repository.add_command(
    create_command(decorators=update_options + [click.option("--name", required=True)])
)
repository.add_command(update_command(decorators=lookup_options + update_options))
repository.add_command(destroy_command(decorators=lookup_options))
repository.add_command(version_command(decorators=nested_lookup_options))
repository.add_command(label_command(decorators=nested_lookup_options))


@repository.command()
@name_option
@href_option
@repository_lookup_option
@remote_option
@click.option(
    "--repo",
    "repo_ids",
    multiple=True,
    required=True,
    help=_("A Hub repo id ('org/name'); repeat for several."),
)
@click.option(
    "--repo-type",
    type=click.Choice(REPO_TYPES),
    default="model",
    show_default=True,
    help=_("The kind of every --repo."),
)
@click.option("--revision", default="main", show_default=True, help=_("Branch, tag or commit."))
@click.option(
    "--allow",
    "allow_patterns",
    multiple=True,
    help=_("Fetch only files matching this glob (snapshot_download's allow_patterns); repeatable."),
)
@click.option(
    "--ignore",
    "ignore_patterns",
    multiple=True,
    help=_("Skip files matching this glob (snapshot_download's ignore_patterns); repeatable."),
)
@pass_repository_context
@pass_pulp_context
def sync(
    pulp_ctx: t.Any,
    repository_ctx: PulpHuggingFaceRepositoryContext,
    /,
    remote: EntityFieldDefinition,
    repo_ids: tuple[str, ...],
    repo_type: str,
    revision: str,
    allow_patterns: tuple[str, ...],
    ignore_patterns: tuple[str, ...],
) -> None:
    """Prefetch Hub repos at a revision into a new repository version.

    Uses the repository's remote unless --remote is given.
    """
    if not remote and repository_ctx.entity.get("remote") is None:
        raise click.ClickException(
            _("Repository '{name}' has no remote: give --remote.").format(
                name=repository_ctx.entity["name"]
            )
        )
    repos = []
    for repo_id in repo_ids:
        entry: dict[str, t.Any] = {"repo_type": repo_type, "repo_id": repo_id, "revision": revision}
        if allow_patterns:
            entry["allow_patterns"] = list(allow_patterns)
        if ignore_patterns:
            entry["ignore_patterns"] = list(ignore_patterns)
        repos.append(entry)
    remote_href = remote.pulp_href if remote and not isinstance(remote, str) else remote
    result = repository_ctx.prefetch(repos, remote=remote_href or None)
    pulp_ctx.output_result(result)
