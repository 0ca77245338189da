"""pulp-glue contexts of the pulp_hugging_face plugin: one per REST endpoint family.

Version agnostic: endpoints that a server may not have yet (prefetch, cache statistics) are
looked up in the server's API schema before they are called, so the CLI can say what is missing
instead of failing with a generic "unknown operation".
"""

import logging
import re
import typing as t
from gettext import gettext as _

from pulp_glue.common.context import (
    EntityDefinition,
    PluginRequirement,
    PulpContentContext,
    PulpContentGuardContext,
    PulpDistributionContext,
    PulpException,
    PulpRemoteContext,
    PulpRepositoryContext,
    PulpRepositoryVersionContext,
)

PLUGIN = "hugging_face"
NEEDS_PLUGINS = [PluginRequirement(PLUGIN)]
REPO_TYPES = ("model", "dataset", "space")


class TokenRedactingFilter(logging.Filter):
    """Keeps the hub token out of pulp-glue's request log (`pulp -vvv` prints request bodies).

    The token is write-only on the server; it must not leak through the client's own debug
    output either.
    """

    PATTERN = re.compile(r"""(['"]hf_token['"]\s*:\s*)(['"])(?:(?!\2).)*\2""")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "hf_token" in message:
            record.msg = self.PATTERN.sub(r"\1'***'", message)
            record.args = None
        return True


# pulp-glue logs each request through its OpenAPI module's logger (`pulp -v...`); the name
# changed between releases.
for _name in ("pulp_glue.openapi", "pulp_glue.common.openapi"):
    logging.getLogger(_name).addFilter(TokenRedactingFilter())


class PulpHuggingFaceContentContext(PulpContentContext):
    PLUGIN = PLUGIN
    RESOURCE_TYPE = "hugging_face"
    ENTITY = _("hugging face file")
    ENTITIES = _("hugging face files")
    HREF = "hugging_face_hugging_face_content_href"
    ID_PREFIX = "content_hugging_face_hugging_face"
    NEEDS_PLUGINS = NEEDS_PLUGINS


class PulpHuggingFaceRemoteContext(PulpRemoteContext):
    PLUGIN = PLUGIN
    RESOURCE_TYPE = "hugging_face"
    ENTITY = _("hugging face remote")
    ENTITIES = _("hugging face remotes")
    HREF = "hugging_face_hugging_face_remote_href"
    ID_PREFIX = "remotes_hugging_face_hugging_face"
    NULLABLES = PulpRemoteContext.NULLABLES | {"hf_token"}
    NEEDS_PLUGINS = NEEDS_PLUGINS

    def preprocess_entity(self, body: EntityDefinition, partial: bool = False) -> EntityDefinition:
        if body.pop("no_hf_token", None):
            if body.get("hf_token"):
                raise PulpException(_("--hf-token and --no-hf-token exclude each other."))
            body["hf_token"] = ""  # a nullable field: sent as null, which removes the token
        return super().preprocess_entity(body, partial=partial)

    def cache_stats(self, top: int | None = None) -> t.Any:
        """What this remote's cache holds (GET .../cache_stats/)."""
        require_operation(self, "cache_stats")
        parameters: dict[str, t.Any] = {self.HREF: self.pulp_href}
        if top is not None:
            parameters["top"] = top
        return self.call("cache_stats", parameters=parameters)


class PulpHuggingFaceDistributionContext(PulpDistributionContext):
    PLUGIN = PLUGIN
    RESOURCE_TYPE = "hugging_face"
    ENTITY = _("hugging face distribution")
    ENTITIES = _("hugging face distributions")
    HREF = "hugging_face_hugging_face_distribution_href"
    ID_PREFIX = "distributions_hugging_face_hugging_face"
    NEEDS_PLUGINS = NEEDS_PLUGINS

    def preprocess_entity(self, body: EntityDefinition, partial: bool = False) -> EntityDefinition:
        body = super().preprocess_entity(body, partial=partial)
        version = body.pop("version", None)
        if version is not None:
            repository_href = body.pop("repository", None)
            if not repository_href:
                raise PulpException(_("--version needs --repository."))
            body["repository_version"] = f"{repository_href}versions/{version}/"
        return body


class PulpHuggingFaceRepositoryVersionContext(PulpRepositoryVersionContext):
    HREF = "hugging_face_hugging_face_repository_version_href"
    ID_PREFIX = "repositories_hugging_face_hugging_face_versions"
    NEEDS_PLUGINS = NEEDS_PLUGINS


class PulpHuggingFaceRepositoryContext(PulpRepositoryContext):
    PLUGIN = PLUGIN
    RESOURCE_TYPE = "hugging_face"
    ENTITY = _("hugging face repository")
    ENTITIES = _("hugging face repositories")
    HREF = "hugging_face_hugging_face_repository_href"
    ID_PREFIX = "repositories_hugging_face_hugging_face"
    VERSION_CONTEXT = PulpHuggingFaceRepositoryVersionContext
    NEEDS_PLUGINS = NEEDS_PLUGINS

    def prefetch(self, repos: list[dict[str, t.Any]], remote: str | None = None) -> t.Any:
        """Fetch Hub repos at a revision into a new repository version (POST .../sync/).

        `repos`: [{"repo_type", "repo_id", "revision", "allow_patterns", "ignore_patterns"}].
        """
        require_operation(self, "sync")
        body: dict[str, t.Any] = {"repos": repos}
        if remote:
            body["remote"] = remote
        return self.sync(body=body)


class PulpHuggingFaceTokenContentGuardContext(PulpContentGuardContext):
    PLUGIN = PLUGIN
    RESOURCE_TYPE = "token"
    ENTITY = _("hugging face token content guard")
    ENTITIES = _("hugging face token content guards")
    HREF = "hugging_face_hugging_face_token_content_guard_href"
    ID_PREFIX = "contentguards_hugging_face_token"
    NEEDS_PLUGINS = NEEDS_PLUGINS


class PulpHuggingFaceCacheContext:
    """Domain-wide cache statistics (GET {api_root}hugging_face/cache_stats/)."""

    OPERATION = "hugging_face_cache_stats_read"

    def __init__(self, pulp_ctx: t.Any) -> None:
        self.pulp_ctx = pulp_ctx
        for requirement in NEEDS_PLUGINS:
            pulp_ctx.needs_plugin(requirement)

    def stats(self, top: int | None = None) -> t.Any:
        if not has_operation(self.pulp_ctx, self.OPERATION):
            raise PulpException(_("This server has no domain-wide cache statistics endpoint."))
        return self.pulp_ctx.call(self.OPERATION, parameters={"top": top} if top else None)


def has_operation(pulp_ctx: t.Any, operation_id: str) -> bool:
    """Whether the server's API schema has this operation (newer server features)."""
    return operation_id in pulp_ctx.api.operations


def require_operation(entity_ctx: t.Any, operation: str) -> None:
    operation_id = f"{entity_ctx.ID_PREFIX}_{operation}"
    if not has_operation(entity_ctx.pulp_ctx, operation_id):
        raise PulpException(
            _("This server does not offer '{operation}' for {entities} (no {op_id}).").format(
                operation=operation, entities=entity_ctx.ENTITIES, op_id=operation_id
            )
        )
