"""Which Hugging Face distribution a content path is under, and what it serves through.

A `DistributionView` holds the distribution with its remote, content guard and repository
already cast to their detail models, so answering a request needs no further query. The views
of all Hugging Face distributions are loaded in one go and kept in `memory` until a change is
announced; while the process is not listening for changes, each request reads the one
distribution it needs.
"""

from dataclasses import dataclass

from asgiref.sync import sync_to_async

from pulpcore.plugin.content import PathNotResolved
from pulpcore.plugin.models import ContentGuard, Domain, Repository
from pulpcore.plugin.util import get_domain

from . import hub, policy
from .memory import memory
from .models import HuggingFaceDistribution, HuggingFaceRemote, HuggingFaceTokenContentGuard


@dataclass(frozen=True)
class DistributionView:
    distribution: HuggingFaceDistribution
    remote: HuggingFaceRemote | None  # None: not a Hugging Face remote, or none set
    guard: ContentGuard | None
    repository: Repository | None
    rules: policy.Rules  # the remote's (none without a remote), read once

    @property
    def guard_needs_authentication(self):
        """A guard other than the token guard may look at the authenticated user."""
        return self.guard is not None and not isinstance(self.guard, HuggingFaceTokenContentGuard)


def _view(distribution):
    remote = distribution.remote.cast() if distribution.remote_id else None
    guard = distribution.content_guard.cast() if distribution.content_guard_id else None
    repository = distribution.repository.cast() if distribution.repository_id else None
    remote = remote if isinstance(remote, HuggingFaceRemote) else None
    rules = remote.rules if remote is not None else policy.Rules()
    return DistributionView(distribution, remote, guard, repository, rules)


def _distributions():
    return HuggingFaceDistribution.objects.select_related(
        "remote", "content_guard", "repository", "repository_version", "pulp_domain"
    ).defer("repository_version__content_ids")


def _load_all():
    return {(d.pulp_domain_id, d.base_path): _view(d) for d in _distributions()}


def _load_one(domain, path):
    distribution = (
        _distributions()
        .filter(pulp_domain=domain, base_path__in=hub.base_path_candidates(path))
        .first()
    )
    if distribution is None:
        raise PathNotResolved(path)
    return _view(distribution)


def remembered(domain_pk, path):
    """The view from memory alone, or None when memory cannot say."""
    views = memory.distributions
    if views is None:
        return None
    return _match(views, domain_pk, path)


def _match(views, domain_pk, path):
    for base_path in hub.base_path_candidates(path):
        view = views.get((domain_pk, base_path))
        if view is not None:
            return view
    return None


async def view_for(path):
    """The view of the distribution `path` is under; raises `PathNotResolved`."""
    domain = get_domain()
    if memory.distributions is None:
        if not memory.listening:
            return await sync_to_async(_load_one)(domain, path)
        generation = memory.generation
        views = await sync_to_async(_load_all)()
        if memory.keeps(generation):
            memory.distributions = views
    else:
        views = memory.distributions
    view = _match(views, domain.pk, path)
    if view is None:
        raise PathNotResolved(path)
    return view


async def remember_domain(name):
    """Keep the request's domain in memory, so the next request needs no domain query."""
    if not memory.listening or name in memory.domains:
        return
    generation = memory.generation
    domain = await Domain.objects.filter(name=name).afirst()
    if domain is not None and memory.keeps(generation):
        memory.domains[name] = domain


def remembered_domain(name):
    return memory.domains.get(name)
