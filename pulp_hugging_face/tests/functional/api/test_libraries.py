"""datasets and transformers load through the cache, cold and then with the hub gone.

Each test is a cell of the Compatibility page (`compat`).
"""

from importlib.metadata import version

from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID

LOAD_DATASET = """
import datasets
splits = datasets.load_dataset({dataset!r})
result = {{name: sorted(map(tuple, split.to_pandas().values.tolist()))
          for name, split in splits.items()}}
"""

LOAD_PARQUET_STREAMING = """
import datasets
stream = datasets.load_dataset(
    {dataset!r}, data_files="parquet/*.parquet", split="train", streaming=True
)
result = [list(row.values()) for row in stream]
"""

FROM_PRETRAINED = """
from transformers import AutoConfig, AutoTokenizer
config = AutoConfig.from_pretrained({model!r})
tokenizer = AutoTokenizer.from_pretrained({model!r})
result = {{
    "model_type": config.model_type,
    "hidden_size": config.hidden_size,
    "ids": tokenizer("hello pulp")["input_ids"],
}}
"""


def test_load_dataset(hf_cache_factory, hub_reset, hf_client, compat):
    compat(client="datasets", behaviour="load_dataset, then offline", version=version("datasets"))
    cache = hf_cache_factory()
    code = LOAD_DATASET.format(dataset=DATASET_ID)
    through_pulp = hf_client(code, cache.endpoint)
    direct = hf_client(code, hub_reset.url)
    assert through_pulp == direct
    assert len(through_pulp["train"]) == 5 and len(through_pulp["test"]) == 3
    assert hub_reset.count("xet") == 0

    # Cached: a fresh client loads the same data set with the hub gone.
    hub_reset.stop()
    try:
        assert hf_client(code, cache.endpoint) == through_pulp
    finally:
        hub_reset.start()


def test_streaming_parquet_reads_ranges(hf_cache_factory, hub_reset, hf_client, compat):
    compat(client="datasets", behaviour="streaming parquet (ranges)", version=version("datasets"))
    cache = hf_cache_factory()
    code = LOAD_PARQUET_STREAMING.format(dataset=DATASET_ID)
    rows = hf_client(code, cache.endpoint)
    assert rows == hf_client(code, hub_reset.url)
    assert len(rows) == 5


def test_transformers_from_pretrained(hf_cache_factory, hub_reset, hf_client, compat):
    behaviour = "AutoConfig / AutoTokenizer.from_pretrained"
    compat(client="transformers", behaviour=behaviour, version=version("transformers"))
    cache = hf_cache_factory()
    code = FROM_PRETRAINED.format(model=MODEL_ID)
    through_pulp = hf_client(code, cache.endpoint)
    assert through_pulp == hf_client(code, hub_reset.url)
    assert through_pulp["model_type"] == "bert" and through_pulp["hidden_size"] == 384
    # Optional files transformers probes for are missing upstream: clean EntryNotFound 404s.
    missing = [
        r for r in hub_reset.stats()["requests"] if r["kind"] == "resolve" and r["status"] == 404
    ]
    assert missing

    # A fresh client loads again from the cache alone, the missing files and folders included.
    hub_reset.reset()
    assert hf_client(code, cache.endpoint) == through_pulp
    assert hub_reset.stats()["requests"] == []
