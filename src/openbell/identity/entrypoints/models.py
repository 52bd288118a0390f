"""What every identity request body shares: unknown fields are refused, nothing is trimmed."""

from pydantic import BaseModel, ConfigDict


class StrictRequest(BaseModel):
    """A request body that names exactly the fields a route reads (a typo is a 422)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
