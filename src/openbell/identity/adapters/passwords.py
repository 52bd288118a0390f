"""The bundled list of common (breached) passwords the password policy refuses."""

import gzip
from functools import cache
from importlib.resources import files


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common breached passwords, lower-cased (see data/README.md)."""
    raw = files("openbell.identity.adapters").joinpath("data/common-passwords.txt.gz")
    text = gzip.decompress(raw.read_bytes()).decode("utf-8")
    return frozenset(line for line in text.splitlines() if line)
