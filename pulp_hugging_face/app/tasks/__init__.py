from .prefetch import prefetch  # noqa: F401
