"""Prefetch: mirror repos at revisions into one new repository version (the repository's `sync`).

For each requested repo and revision the task resolves the revision to its commit, reads the
whole recursive tree (every page), selects files with `snapshot_download`'s allow/ignore
patterns, and downloads each selected file through `pullthrough` (the content app's one-download
machinery: a lease shared with concurrent client requests, verified size and digest). The new
version holds exactly those files plus what a client needs to be answered offline
(`HuggingFaceRevision`: revision -> commit; `HuggingFaceMetadata`: the info answer, the joined
recursive tree, `EntryNotFound` answers for the optional files clients probe). Files already
stored for the remote are not downloaded again, so a second run downloads nothing.
"""

import asyncio
import json
import logging
from functools import partial
from urllib.parse import parse_qsl, urlsplit

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Q

from pulpcore.plugin.models import Content, ProgressReport
from pulpcore.plugin.util import get_domain

from pulp_hugging_face.app import hub, policy, pullthrough, upstream
from pulp_hugging_face.app.metadata import NEXT_PAGE, HubMetadata
from pulp_hugging_face.app.models import (
    HuggingFaceContent,
    HuggingFaceMetadata,
    HuggingFaceRemote,
    HuggingFaceRepository,
    HuggingFaceRevision,
)
from pulp_hugging_face.app.upstream import UpstreamUnavailable

log = logging.getLogger(__name__)

PARALLEL_DOWNLOADS = 4
MAX_TREE_PAGES = 10_000
MAX_PROGRESS_VALUE = 2**31 - 1  # ProgressReport counts are 32-bit integers

# Optional files the libraries ask for (seen in the fake hub's request log): transformers'
# tokenizer and chat template probes, datasets' loading-script and config probes. Those a repo
# lacks are stored as EntryNotFound answers (`{name}` is the repo's name).
PROBED_FILES = {
    hub.MODEL: (
        "added_tokens.json",
        "chat_template.jinja",
        "chat_template.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "tokenizer.json",
        "generation_config.json",
        "preprocessor_config.json",
        "processor_config.json",
        "adapter_config.json",
    ),
    hub.DATASET: ("{name}.py", ".huggingface.yaml", "dataset_infos.json", "README.md"),
    hub.SPACE: (),
}


MAX_LOGGED_DENIALS = 20  # per repo; the progress report counts them all


def selected(remote, plan, path, facts):
    """Whether prefetch takes this file. The one place files are chosen: the request's patterns,
    then the remote's rules (`policy.check`); a file the remote refuses is skipped, counted in
    `plan.denied` and logged."""
    if not hub.path_selected(path, plan.allow_patterns, plan.ignore_patterns):
        return False
    repo = plan.repo
    denial = policy.check(remote, repo.repo_type, repo.repo_id, path, facts.size)
    if denial is not None:
        plan.denied.append(path)
        if len(plan.denied) <= MAX_LOGGED_DENIALS:
            log.info("Prefetch skips %s of %s: %s", path, repo.repo_id, denial.message)
        return False
    return True


def refused_repo(remote, plan):
    """The `PrefetchError` for a repo the remote's rules refuse (the rules may have changed
    since the sync was asked for), before any upstream request; else None."""
    denial = policy.check(remote, plan.repo.repo_type, plan.repo.repo_id)
    return PrefetchError(denial.message) if denial is not None else None


class Progress:
    """pulpcore progress reports for files and bytes (bytes in MiB beyond 32-bit counts)."""

    def __init__(self, files, size, denied=0):
        self.unit = 1 if size <= MAX_PROGRESS_VALUE else 1024 * 1024
        self.bytes_done = 0
        self.files = ProgressReport(
            message="Downloading files", code="sync.downloading.files", total=files
        )
        self.skipped = ProgressReport(
            message="Files already stored", code="sync.skipped.files", total=None
        )
        # Files the patterns selected and the remote's rules refused: not in the version.
        self.denied = ProgressReport(
            message="Files refused by the remote's rules",
            code="sync.denied.files",
            total=denied,
            done=denied,
        )
        self.bytes = ProgressReport(
            message="Downloading bytes" if self.unit == 1 else "Downloading MiB",
            code="sync.downloading.bytes",
            total=-(-size // self.unit),
        )

    async def start(self):
        for report in (self.files, self.skipped, self.denied, self.bytes):
            report.state = "running"
            await sync_to_async(report.save)()

    async def file_done(self, size, downloaded):
        await self.files.aincrement()
        if not downloaded:
            await self.skipped.aincrement()
        before = self.bytes_done // self.unit
        self.bytes_done += size
        await self.bytes.aincrease_by(self.bytes_done // self.unit - before)

    async def finish(self, state="completed"):
        for report in (self.files, self.skipped, self.denied, self.bytes):
            report.state = state
            await sync_to_async(report.save)()


class RepoPlan:
    """One requested repo at one revision: what the version will hold of it."""

    def __init__(self, spec):
        self.repo = hub.RepoRef(spec["repo_type"], spec["repo_id"])
        self.revision = spec.get("revision") or "main"
        self.allow_patterns = spec.get("allow_patterns") or None
        self.ignore_patterns = spec.get("ignore_patterns") or None
        self.commit = None
        self.revisions = []
        self.metadata = []  # unsaved HuggingFaceMetadata
        self.files = []  # (path, FileFacts)
        self.denied = []  # paths the patterns selected and the remote's rules refused


async def _tree(metadata, repo, commit):
    """Every entry of the recursive tree at `commit`, all pages (each stored for the remote)."""
    request = hub.ApiRequest(repo, "tree", commit)
    query = (("recursive", "true"),)
    entries, seen = [], set()
    for _ in range(MAX_TREE_PAGES):
        seen.add(query)
        page = await metadata.listing(request, commit, query)
        entries.extend(json.loads(page.body))
        next_url = page.headers.get(NEXT_PAGE)
        if not next_url:
            return entries
        query = hub.allowed_query("tree", parse_qsl(urlsplit(next_url).query))
        if query in seen:
            raise hub.upstream_refused("the tree pages link back to an earlier page.")
    raise hub.upstream_refused(f"the tree has more than {MAX_TREE_PAGES} pages.")


async def _plan(metadata, remote, plan):
    """Resolve the revision, list the commit, choose the files, make the metadata units."""
    repo = plan.repo
    info_answer = await metadata.current_info(repo, plan.revision, ())
    info = hub.parse_json_answer(info_answer.body)
    plan.commit = commit = hub.info_commit(info, plan.revision)
    if not hub.is_commit(plan.revision):
        plan.revisions.append(plan.revision)
    default = await metadata.current_info(repo, None, ())
    if hub.info_commit(hub.parse_json_answer(default.body)) == commit:
        plan.revisions.append("")  # the default branch: `api/{type}s/{id}` without a revision
    plan.metadata.append(
        HuggingFaceMetadata.build(repo, commit, HuggingFaceMetadata.INFO, info_answer.body.decode())
    )
    entries = await _tree(metadata, repo, commit)
    plan.metadata.append(
        HuggingFaceMetadata.build(repo, commit, HuggingFaceMetadata.TREE, json.dumps(entries))
    )
    listed = set()
    for entry in entries:
        facts = hub.file_facts_from_entry(entry, commit)
        if facts is None:
            continue
        path = entry["path"]
        try:
            hub.validate_filename(path)
        except hub.HubError:
            log.warning("Skipping %s of %s: not a file path the cache serves.", path, repo)
            continue
        listed.add(path)
        if selected(remote, plan, path, facts):
            plan.files.append((path, facts))
    name = repo.repo_id.rsplit("/", 1)[-1]
    for path in PROBED_FILES[repo.repo_type]:
        path = path.format(name=name)
        if path in listed:
            continue
        message = f"{path} does not exist at {commit}."
        plan.metadata.append(
            HuggingFaceMetadata.build(
                repo, commit, HuggingFaceMetadata.FILE, message, path=path, status=404
            )
        )
        # The complete listing says so: the pull-through cache knows it too.
        await metadata._store_facts(hub.ResolveRequest(repo, commit, path), commit)


async def _fetch_file(handler, remote, domain, plan, path, facts):
    """The content unit of one file, downloaded unless stored: (content pk, downloaded)."""
    relative_path = hub.resolve_path(plan.repo, plan.commit, path)
    url = remote.get_remote_artifact_url(relative_path)
    query = pullthrough.stored_files(remote, url, plan.repo, path, facts, domain.pk)
    stored = await query.afirst()
    if stored is not None:
        return stored.content_id, False
    fetch = partial(pullthrough.fetch_and_store, handler, remote, url, relative_path, facts, None)
    current = pullthrough.download(remote, url, facts.size, domain, fetch, query.afirst)
    while not current.finished:
        await current.changed(timeout=1.0)
    if current.error is not None:
        raise current.error
    stored = await query.afirst()
    if stored is None:
        raise hub.upstream_refused(f"{path} of {plan.repo.repo_id} was not stored.")
    return stored.content_id, True


async def _fetch_all(remote, domain, plans):
    # pulpcore's artifact bookkeeping (_save_artifact) is the content handler's
    from pulp_hugging_face.app.handler import HuggingFaceHandler

    handler = HuggingFaceHandler()
    jobs = [(plan, path, facts) for plan in plans for path, facts in plan.files]
    denied = sum(len(plan.denied) for plan in plans)
    progress = Progress(len(jobs), sum(facts.size for _, _, facts in jobs), denied)
    await progress.start()
    slots = asyncio.Semaphore(PARALLEL_DOWNLOADS)

    async def one(plan, path, facts):
        async with slots:
            pk, downloaded = await _fetch_file(handler, remote, domain, plan, path, facts)
            await progress.file_done(facts.size, downloaded)
            return pk

    try:
        content = await asyncio.gather(*(one(*job) for job in jobs))
    except BaseException:
        await progress.finish("failed")
        raise
    await progress.finish()
    return content


def _saved(units):
    """Each unit as stored: the existing one when the same answer is already content."""
    saved = []
    for unit in units:
        try:
            with transaction.atomic():
                unit.save()
        except IntegrityError:
            unit = type(unit).objects.get(unit.q())
        saved.append(unit.pk)
    return saved


def _new_version(repository, plans, file_pks):
    """One version: the named repos replaced by what was prefetched, other repos kept."""
    revisions = [
        HuggingFaceRevision(
            repo_type=plan.repo.repo_type,
            repo_id=plan.repo.repo_id,
            revision=revision,
            commit=plan.commit,
        )
        for plan in plans
        for revision in plan.revisions
    ]
    metadata = [unit for plan in plans for unit in plan.metadata]
    new_pks = set(file_pks) | set(_saved(revisions)) | set(_saved(metadata))
    named = Q()
    for plan in plans:
        named |= Q(repo_type=plan.repo.repo_type, repo_id=plan.repo.repo_id)
    with repository.new_version() as version:
        for model in (HuggingFaceContent, HuggingFaceRevision, HuggingFaceMetadata):
            old = model.objects.filter(pk__in=version.content).filter(named)
            version.remove_content(old.exclude(pk__in=new_pks))
        version.add_content(Content.objects.filter(pk__in=new_pks))
    return version


async def prefetch(repository_pk, remote_pk, repos):
    """The `sync` task: prefetch `repos` (dicts of repo_type, repo_id, revision, patterns)."""
    repository = await HuggingFaceRepository.objects.aget(pk=repository_pk)
    remote = await HuggingFaceRemote.objects.aget(pk=remote_pk)
    domain = await sync_to_async(get_domain)()
    metadata = HubMetadata(remote)
    plans = [RepoPlan(spec) for spec in repos]
    for plan in plans:
        if (error := refused_repo(remote, plan)) is not None:
            raise error
    try:
        for plan in plans:
            await _plan(metadata, remote, plan)
        file_pks = await _fetch_all(remote, domain, plans)
    except UpstreamUnavailable as exc:
        raise PrefetchError(exc.hub_error().message) from None
    except hub.HubError as error:
        raise PrefetchError(f"{error.status} {error.code or ''}: {error.message}") from None
    finally:
        await upstream.close_all()
    await sync_to_async(_new_version)(repository, plans, file_pks)


class PrefetchError(Exception):
    """A prefetch that could not complete: what upstream said, or what was wrong with it."""
