# fcaudit in a container: built from this repository on a slim Python base, run as a non-root user.
#
#   docker build -t fcaudit .
#   docker run --rm fcaudit --version
#   docker run --rm -v "$PWD/out:/home/fcaudit/out" fcaudit demo --output-dir out
#
# PYTHON_IMAGE picks another base with Python >= 3.11 (a mirror, a pinned digest). Two stages: the build
# stage installs fcaudit and its dependencies into a venv; the final image holds the venv and nothing of
# the build (no pip cache, no source tree, no build tools).
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY crawler ./crawler
RUN python3 -m venv /opt/fcaudit \
    && /opt/fcaudit/bin/pip install --no-cache-dir --disable-pip-version-check '.[uvloop]'

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="fcaudit" \
      org.opencontainers.image.description="Audit of Alibaba Cloud Function Compute async-invocation settings" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/fcaudit fcaudit
COPY --from=build /opt/fcaudit /opt/fcaudit
ENV PATH=/opt/fcaudit/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/fcaudit
ENTRYPOINT ["fcaudit"]
CMD ["--help"]
