"""SeaweedFS helpers for scripts/lib/pulp.sh (run with the venv's Python: needs boto3).

Subcommands:
  identities STATE_DIR               print SeaweedFS's S3 identity file for the generated keys
  bucket STATE_DIR S3_URL BUCKET     exit 0 once the S3 gateway answers and BUCKET exists
                                     (created if missing); prints what is still missing

The keys are read from STATE_DIR/s3-access-key and STATE_DIR/s3-secret-key, never printed.
"""

import json
import sys
from pathlib import Path


def _key(state, name):
    return (Path(state) / name).read_text().strip()


def identities(state):
    print(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "pulp",
                        "credentials": [
                            {
                                "accessKey": _key(state, "s3-access-key"),
                                "secretKey": _key(state, "s3-secret-key"),
                            }
                        ],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    return 0


def bucket(state, url, name):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=_key(state, "s3-access-key"),
        aws_secret_access_key=_key(state, "s3-secret-key"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
        ),
    )
    try:
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        if name not in names:
            s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)
    except (BotoCoreError, ClientError) as exc:  # not up, or no leader yet: the caller retries
        print(f"S3 not ready: {type(exc).__name__}: {str(exc)[:200]}")
        return 1
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "identities":
        return identities(argv[1])
    if len(argv) == 4 and argv[0] == "bucket":
        return bucket(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
