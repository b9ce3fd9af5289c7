# syntax=docker/dockerfile:1
# kitsync image: every role (worker, beat, receiver, flower) runs from it; see docker-compose.yml.
#   docker build -t kitsync .
#   docker run --env-file .env kitsync worker -c 4
ARG PYTHON_IMAGE=python:3.11-slim

# Build: wheels of kitsync and of every dependency (all have binary wheels: no compiler needed).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kitsync ./kitsync
RUN pip wheel --wheel-dir /wheels '.[monitor]'

# Runtime: the wheels are mounted for the install only, so none of them (nor the source) stays.
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Versions are fixed by the wheels built above (--no-index): nothing to pin here.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels 'kitsync[monitor]' \
    && groupadd --system --gid 10001 kitsync \
    && useradd --system --uid 10001 --gid kitsync --home-dir /var/lib/kitsync --create-home \
       --shell /usr/sbin/nologin kitsync
# The working folder is the user's own: beat keeps its schedule file there.
WORKDIR /var/lib/kitsync
USER 10001:10001
ENTRYPOINT ["kitsync"]
CMD ["worker"]
