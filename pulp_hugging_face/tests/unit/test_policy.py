"""`pulp_hugging_face/app/policy.py`: which repos and files a remote lets through."""

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulp_hugging_face.app import hub, policy
from pulp_hugging_face.app.policy import Rules, check

PROPERTY = settings(max_examples=300, deadline=None, database=None)


def test_no_rules_allow_everything():
    assert check(Rules(), "model", "org/name", "model.bin", 10**12) is None


def test_a_repo_type_not_listed_is_denied():
    denial = check(Rules(repo_types=("model",)), "dataset", "org/data", "train.csv")
    assert denial.rule == "repo_types"
    assert "dataset repos are not served" in denial.message


def test_a_listed_repo_type_is_allowed():
    assert check(Rules(repo_types=("model", "dataset")), "dataset", "org/data") is None


def test_deny_repo_glob_names_the_pattern():
    denial = check(Rules(deny_repos=("*/*-uncensored",)), "model", "org/llm-uncensored")
    assert denial.rule == "deny_repos '*/*-uncensored'"
    assert "org/llm-uncensored" in denial.message and "*/*-uncensored" in denial.message


def test_deny_repo_glob_matches_the_whole_id():
    assert check(Rules(deny_repos=("*-uncensored",)), "model", "org/x-uncensored-v2") is None


def test_deny_repo_ignores_case():
    assert check(Rules(deny_repos=("*/*-uncensored",)), "model", "Org/LLM-Uncensored")


def test_deny_repo_regex():
    rules = Rules(deny_repos=(r"re:.*/.*-(uncensored|abliterated)",))
    assert check(rules, "model", "org/x-abliterated")
    assert check(rules, "model", "org/x-instruct") is None


def test_repo_regex_is_anchored_at_both_ends():
    assert check(Rules(deny_repos=("re:uncensored",)), "model", "org/uncensored-x") is None


def test_repo_regex_ignores_case():
    assert check(Rules(deny_repos=("re:evil/.*",)), "model", "EVIL/thing")


def test_allow_repos_denies_what_matches_no_pattern():
    rules = Rules(allow_repos=("org/*", "sentence-transformers/*"))
    denial = check(rules, "model", "other/model")
    assert denial.rule == "allow_repos"
    assert "other/model is not allowed" in denial.message


def test_allow_repos_allows_a_match():
    rules = Rules(allow_repos=("org/*", "sentence-transformers/*"))
    assert check(rules, "model", "sentence-transformers/all-MiniLM-L6-v2") is None


def test_deny_repos_wins_over_allow_repos():
    rules = Rules(allow_repos=("org/*",), deny_repos=("org/secret",))
    assert check(rules, "model", "org/secret").rule == "deny_repos 'org/secret'"


def test_a_denied_repo_message_names_the_repo_type_prefix():
    denial = check(Rules(deny_repos=("org/*",)), "dataset", "org/data")
    assert "datasets/org/data" in denial.message


def test_deny_files_glob():
    denial = check(Rules(deny_files=("*.bin", "*.pt")), "model", "org/m", "pytorch_model.bin")
    assert denial.rule == "deny_files '*.bin'"
    assert "pytorch_model.bin" in denial.message


def test_deny_files_star_crosses_folders():
    assert check(Rules(deny_files=("*.pkl",)), "model", "org/m", "sub/dir/weights.pkl")


def test_deny_files_ignores_case():
    assert check(Rules(deny_files=("*.bin",)), "model", "org/m", "MODEL.BIN")


def test_a_file_pattern_ending_in_a_slash_names_a_folder():
    rules = Rules(deny_files=("onnx/",))
    assert check(rules, "model", "org/m", "onnx/model.onnx")
    assert check(rules, "model", "org/m", "onnx.txt") is None


def test_allow_files_denies_other_files():
    rules = Rules(allow_files=("*.safetensors", "*.json"))
    assert check(rules, "model", "org/m", "model.bin").rule == "allow_files"
    assert check(rules, "model", "org/m", "config.json") is None


def test_deny_files_wins_over_allow_files():
    rules = Rules(allow_files=("*",), deny_files=("*.ckpt",))
    assert check(rules, "model", "org/m", "x.ckpt").rule == "deny_files '*.ckpt'"


def test_max_file_size_denies_a_larger_file():
    denial = check(Rules(max_file_size=100), "model", "org/m", "big.bin", 101)
    assert denial.rule == "max_file_size"
    assert "101 bytes" in denial.message and "max_file_size 100" in denial.message


def test_max_file_size_allows_a_file_of_exactly_that_size():
    assert check(Rules(max_file_size=100), "model", "org/m", "f.bin", 100) is None


def test_max_file_size_is_not_decided_without_a_size():
    assert check(Rules(max_file_size=100), "model", "org/m", "f.bin", None) is None


def test_a_repo_check_without_path_ignores_file_rules():
    assert check(Rules(deny_files=("*",)), "model", "org/m") is None


def test_a_repo_denial_comes_before_file_rules():
    rules = Rules(deny_repos=("org/*",), deny_files=("*.bin",))
    assert check(rules, "model", "org/m", "x.bin").rule == "deny_repos 'org/*'"


def test_a_denial_is_an_hf_style_403():
    error = check(Rules(deny_repos=("org/*",)), "model", "org/m").hub_error()
    assert error.status == 403
    assert "deny_repos 'org/*'" in error.headers()["X-Error-Message"]


def test_rules_of_an_object_with_the_remote_fields():
    class Remote:
        deny_repos = ["org/*"]
        repo_types = None
        max_file_size = None

    rules = Rules.of(Remote())
    assert rules.deny_repos == ("org/*",)
    assert rules.repo_types == hub.REPO_TYPES
    assert rules.allow_files == ()


def test_check_accepts_a_remote_like_object():
    class Remote:
        deny_files = ["*.bin"]

    assert check(Remote(), "model", "org/m", "x.bin").rule == "deny_files '*.bin'"


# --- validation -------------------------------------------------------------------------------


def test_a_bad_regex_is_refused_with_the_pattern_named():
    with pytest.raises(policy.PolicyError, match=r"'re:\(unclosed' is not a valid regular"):
        policy.validate_repo_patterns(["org/*", "re:(unclosed"])


def test_an_empty_regex_is_refused():
    with pytest.raises(policy.PolicyError, match="followed by a regular expression"):
        policy.validate_repo_patterns(["re:"])


def test_an_empty_pattern_is_refused():
    with pytest.raises(policy.PolicyError, match="non-empty"):
        policy.validate_file_patterns([""])


def test_a_pattern_with_a_control_character_is_refused():
    with pytest.raises(policy.PolicyError, match="control"):
        policy.validate_file_patterns(["a\nb"])


def test_an_overlong_pattern_is_refused():
    with pytest.raises(policy.PolicyError, match="at most"):
        policy.validate_repo_patterns(["a" * (policy.MAX_PATTERN_LENGTH + 1)])


def test_a_string_instead_of_a_list_is_refused():
    with pytest.raises(policy.PolicyError, match="list"):
        policy.validate_file_patterns("*.bin")


def test_valid_patterns_are_kept_in_order_without_duplicates():
    assert policy.validate_repo_patterns(["b/*", "a/*", "b/*"]) == ["b/*", "a/*"]


def test_unknown_repo_types_are_refused():
    with pytest.raises(policy.PolicyError, match="'models'"):
        policy.validate_repo_types(["models"])


def test_no_repo_type_is_refused():
    with pytest.raises(policy.PolicyError, match="At least one"):
        policy.validate_repo_types([])


def test_repo_types_come_back_in_canonical_order():
    assert policy.validate_repo_types(["space", "model", "space"]) == ["model", "space"]


# --- properties -------------------------------------------------------------------------------

NAME = st.text(alphabet="abcXYZ019-_.", min_size=1, max_size=12)
REPO_ID = st.builds(lambda a, b: f"{a}/{b}", NAME, NAME)
PATH = st.lists(NAME, min_size=1, max_size=4).map("/".join)
GLOB = st.text(alphabet="abcXYZ01-_./*?", min_size=1, max_size=12)


@PROPERTY
@given(repo_id=REPO_ID, pattern=GLOB)
def test_a_repo_glob_agrees_with_fnmatch_ignoring_case(repo_id, pattern):
    expected = fnmatch.fnmatchcase(repo_id.lower(), pattern.lower())
    assert policy.repo_matches(pattern, repo_id) is expected


@PROPERTY
@given(repo_id=REPO_ID, pattern=GLOB)
def test_a_repo_matching_a_deny_pattern_is_denied_whatever_the_allow_rules(repo_id, pattern):
    denied = check(Rules(deny_repos=(pattern,), allow_repos=(pattern, "*")), "model", repo_id)
    assert (denied is not None) is policy.repo_matches(pattern, repo_id)


@PROPERTY
@given(repo_id=REPO_ID, path=PATH, size=st.integers(0, 2**40), limit=st.integers(0, 2**40))
def test_max_file_size_denies_exactly_the_larger_files(repo_id, path, size, limit):
    denied = check(Rules(max_file_size=limit), "model", repo_id, path, size)
    assert (denied is not None) is (size > limit)


@PROPERTY
@given(repo_id=REPO_ID, path=PATH, patterns=st.lists(GLOB, max_size=4))
def test_adding_a_deny_rule_never_allows_more(repo_id, path, patterns):
    before = check(Rules(deny_files=tuple(patterns)), "model", repo_id, path)
    after = check(Rules(deny_files=(*patterns, "*.bin")), "model", repo_id, path)
    assert before is None or after is not None


@PROPERTY
@given(pattern=st.text(max_size=40))
def test_validation_either_accepts_or_raises_policy_error(pattern):
    try:
        accepted = policy.validate_repo_patterns(["re:" + pattern])
    except policy.PolicyError:
        return
    # What validation accepts, matching can use without error.
    policy.repo_matches(accepted[0], "org/name")
