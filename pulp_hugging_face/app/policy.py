"""What a remote lets through: repo and file rules, decided before anything is asked upstream.

Framework-free (no Django, no I/O), so the handler, the prefetch task and the serializer share one
set of rules and unit tests need no server.

Rules, all optional:
- `repo_types`: the repo types served (default all three).
- `deny_repos` / `allow_repos`: repo id patterns, a glob (`org/*`, `*/*-uncensored`) or a
  regular expression written `re:<pattern>`. Both match the whole id, case-insensitively, as the
  hub treats ids. A deny rule wins; when allow rules exist, an id must match one of them.
- `deny_files` / `allow_files`: fnmatch globs on the file path (`*` also matches `/`; a pattern
  ending in `/` names a folder), case-insensitively, so `*.BIN` cannot slip past `*.bin`.
- `max_file_size`: bytes; a larger file is refused.

`check` returns None (allowed) or a `Denial` naming the rule that refused.
"""

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache

from . import hub

REGEX_PREFIX = "re:"
MAX_PATTERN_LENGTH = 256
MAX_PATTERNS = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class PolicyError(ValueError):
    """A rule that cannot be saved (bad regex, bad type, too long)."""


@dataclass(frozen=True)
class Rules:
    allow_repos: tuple = ()
    deny_repos: tuple = ()
    allow_files: tuple = ()
    deny_files: tuple = ()
    max_file_size: int | None = None
    repo_types: tuple = hub.REPO_TYPES

    @classmethod
    def of(cls, remote):
        """The rules of a remote (any object with the rule attributes; missing ones: none)."""
        types = getattr(remote, "repo_types", None)
        return cls(
            allow_repos=tuple(getattr(remote, "allow_repos", None) or ()),
            deny_repos=tuple(getattr(remote, "deny_repos", None) or ()),
            allow_files=tuple(getattr(remote, "allow_files", None) or ()),
            deny_files=tuple(getattr(remote, "deny_files", None) or ()),
            max_file_size=getattr(remote, "max_file_size", None),
            repo_types=hub.REPO_TYPES if types is None else tuple(types),
        )

    @property
    def restricts_repos(self):
        return bool(self.allow_repos or self.deny_repos) or set(hub.REPO_TYPES) - set(
            self.repo_types
        )

    @property
    def restricts_files(self):
        return bool(self.allow_files or self.deny_files) or self.max_file_size is not None


@dataclass(frozen=True)
class Denial:
    """Why a request is refused: `rule` names the remote's field and pattern."""

    rule: str
    message: str

    def hub_error(self):
        # `GatedRepo` is the one 403 code that huggingface_hub raises as is (GatedRepoError,
        # with this message) from hf_hub_download; without a code it reports "check your
        # connection" (LocalEntryNotFoundError) and hides the rule.
        return hub.HubError(403, hub.GATED_REPO, self.message)


# --- matching ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _repo_matcher(pattern):
    if pattern.startswith(REGEX_PREFIX):
        return re.compile(pattern[len(REGEX_PREFIX) :], re.IGNORECASE).fullmatch
    return re.compile(fnmatch.translate(pattern.lower())).match


@lru_cache(maxsize=4096)
def _file_matcher(pattern):
    if pattern.endswith("/"):
        pattern += "*"
    return re.compile(fnmatch.translate(pattern.lower())).match


def repo_matches(pattern, repo_id):
    matcher = _repo_matcher(pattern)
    return matcher(repo_id if pattern.startswith(REGEX_PREFIX) else repo_id.lower()) is not None


def file_matches(pattern, path):
    return _file_matcher(pattern)(path.lower()) is not None


def _first_match(patterns, matches, value):
    return next((p for p in patterns if matches(p, value)), None)


def _repo_name(repo_type, repo_id):
    return f"{hub.RESOLVE_PREFIXES.get(repo_type, '')}{repo_id}"


def check_repo(rules, repo_type, repo_id):
    """None when the repo may be served, else the `Denial`."""
    if repo_type not in rules.repo_types:
        return Denial(
            "repo_types",
            f"{repo_type} repos are not served by this cache "
            f"(rule repo_types: {', '.join(rules.repo_types)}).",
        )
    if pattern := _first_match(rules.deny_repos, repo_matches, repo_id):
        return Denial(
            f"deny_repos {pattern!r}",
            f"{_repo_name(repo_type, repo_id)} is denied by this cache "
            f"(rule deny_repos {pattern!r}).",
        )
    if rules.allow_repos and not _first_match(rules.allow_repos, repo_matches, repo_id):
        return Denial(
            "allow_repos",
            f"{_repo_name(repo_type, repo_id)} is not allowed by this cache "
            "(rule allow_repos: no pattern matches).",
        )
    return None


def check_size(rules, path, size):
    """The `max_file_size` rule alone, once the size is known."""
    if size is not None and rules.max_file_size is not None and size > rules.max_file_size:
        return Denial(
            "max_file_size",
            f"{path} is {size} bytes, larger than this cache allows "
            f"(rule max_file_size {rules.max_file_size}).",
        )
    return None


def check_file(rules, path, size=None):
    """None when the file may be served, else the `Denial`. `size` None: not known (yet)."""
    if pattern := _first_match(rules.deny_files, file_matches, path):
        return Denial(
            f"deny_files {pattern!r}",
            f"{path} is denied by this cache (rule deny_files {pattern!r}).",
        )
    if rules.allow_files and not _first_match(rules.allow_files, file_matches, path):
        return Denial(
            "allow_files",
            f"{path} is not allowed by this cache (rule allow_files: no pattern matches).",
        )
    return check_size(rules, path, size)


def check(rules, repo_type, repo_id, path=None, size=None):
    """The whole policy for one file (or, with `path` None, for a repo): None or a `Denial`."""
    if not isinstance(rules, Rules):
        rules = Rules.of(rules)
    denial = check_repo(rules, repo_type, repo_id)
    if denial is None and path is not None:
        denial = check_file(rules, path, size)
    return denial


def check_request(rules, request, size=None):
    """`check` for a parsed Hub request: file rules for a resolve, repo rules for an API call
    (listings of an allowed repo keep naming denied files, as the hub would)."""
    path = getattr(request, "filename", None)
    return check(rules, request.repo.repo_type, request.repo.repo_id, path, size)


# --- validation (when a remote is saved) ------------------------------------------------------


def _check_pattern_text(pattern):
    if not isinstance(pattern, str) or not pattern:
        raise PolicyError("A pattern must be a non-empty string.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PolicyError(f"A pattern may have at most {MAX_PATTERN_LENGTH} characters.")
    if _CONTROL_RE.search(pattern):
        raise PolicyError("A pattern cannot contain control characters.")


def _check_list(patterns, check_one):
    if patterns is None:
        return []
    if isinstance(patterns, str) or not isinstance(patterns, list | tuple):
        raise PolicyError("Expected a list of patterns.")
    if len(patterns) > MAX_PATTERNS:
        raise PolicyError(f"At most {MAX_PATTERNS} patterns.")
    for pattern in patterns:
        check_one(pattern)
    return list(dict.fromkeys(patterns))


def _check_repo_pattern(pattern):
    _check_pattern_text(pattern)
    if pattern.startswith(REGEX_PREFIX):
        expression = pattern[len(REGEX_PREFIX) :]
        if not expression:
            raise PolicyError("'re:' must be followed by a regular expression.")
        try:
            re.compile(expression)
        except re.error as exc:
            raise PolicyError(f"{pattern!r} is not a valid regular expression: {exc}.") from None


def validate_repo_patterns(patterns):
    """The patterns, deduplicated in order; raises `PolicyError` naming the bad one."""
    return _check_list(patterns, _check_repo_pattern)


def validate_file_patterns(patterns):
    return _check_list(patterns, _check_pattern_text)


def validate_repo_types(repo_types):
    if isinstance(repo_types, str) or not isinstance(repo_types, list | tuple):
        raise PolicyError("Expected a list of repo types.")
    unknown = [t for t in repo_types if t not in hub.REPO_TYPES]
    if unknown:
        raise PolicyError(
            f"Unknown repo type(s) {', '.join(map(repr, unknown))}: "
            f"expected {', '.join(hub.REPO_TYPES)}."
        )
    if not repo_types:
        raise PolicyError("At least one repo type is needed.")
    return [t for t in hub.REPO_TYPES if t in repo_types]
