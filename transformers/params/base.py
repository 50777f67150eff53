"""Base class for agent parameter models: strict, documented, exported to OpenAPI."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AgentParams(BaseModel):
    """Parameters of one agent. Unknown fields are rejected so that typos surface as 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)
