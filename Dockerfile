# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target gateway -t agensium-gateway .   # API, migrations, CLI: no data stack
#   docker build --target worker  -t agensium-worker  .   # Celery workers, beat, Flower
# The base image is pinned to an exact release; pin its digest too in your registry mirror
# (docker buildx imagetools inspect python:3.11.14-slim-bookworm) and pass it here.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies are installed into a virtualenv in a build stage and copied out, so the
# runtime images carry no pip cache and no build leftovers.
FROM base AS build-base
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY core ./core
COPY tenants ./tenants
COPY billing ./billing
COPY transformers ./transformers
COPY tasks ./tasks
COPY workers ./workers
COPY gateway ./gateway

FROM build-base AS build-gateway
# The base package only: no polars, pyarrow, scipy (the gateway enqueues by task name).
RUN pip install .

FROM build-base AS build-worker
RUN pip install ".[worker]"

# The application tree (alembic.ini and migrations/ are read from here; PYTHONPATH puts it
# first), owned by root and read-only for the unprivileged user that runs the processes.
FROM base AS app
RUN groupadd --system --gid 10001 agensium \
    && useradd --system --uid 10001 --gid agensium --home-dir /tmp --shell /usr/sbin/nologin agensium
COPY alembic.ini pyproject.toml ./
COPY migrations ./migrations
COPY core ./core
COPY tenants ./tenants
COPY billing ./billing
COPY transformers ./transformers
COPY tasks ./tasks
COPY workers ./workers
COPY gateway ./gateway
ENV PYTHONPATH=/app HOME=/tmp

FROM app AS gateway
COPY --from=build-gateway /opt/venv /opt/venv
USER 10001:10001
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8000'), timeout=4)"]
CMD ["python", "-m", "gateway"]

FROM app AS worker
COPY --from=build-worker /opt/venv /opt/venv
USER 10001:10001
# Healthy when this container's Celery node answers a ping (WORKER_NODE = its queue name).
HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 \
    CMD celery -A workers.app inspect ping --timeout 10 -d "${WORKER_NODE:-celery}@${HOSTNAME}" || exit 1
# Exec form: Celery is PID 1 and receives SIGTERM itself (warm shutdown).
CMD ["celery", "-A", "workers.app", "worker", "-l", "INFO", "--without-gossip", "--without-mingle", "worker_soft_shutdown_timeout=1800"]
