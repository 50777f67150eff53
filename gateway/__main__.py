"""``python -m gateway``: serve the API with uvicorn on GATEWAY_HOST:GATEWAY_PORT."""

from __future__ import annotations

import uvicorn

from core.settings import get_settings

if __name__ == "__main__":
    s = get_settings()
    uvicorn.run("gateway.app:app", host=s.gateway_host, port=s.gateway_port, log_level="warning")
