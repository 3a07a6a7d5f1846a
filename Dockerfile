# syntax=docker/dockerfile:1
# Sluice: a small, hardened image. Build: docker build -t sluice .
# Run:    docker run --read-only --tmpfs /tmp -p 8080:8080 -p 9090:9090 \
#           -v "$PWD/config/sluice.yaml:/etc/sluice/sluice.yaml:ro" sluice
# Another config path: pass the arguments, e.g. `docker run ... sluice --config /config/other.yaml`.
# .ci/check-image runs the same install steps into a fresh virtualenv (no Docker engine in CI).

# ---- builder: wheels for the pinned set and Sluice itself, installed into /opt/venv ----
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip wheel --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-index --find-links /wheels -r requirements.lock \
 && /opt/venv/bin/pip install --no-index --no-deps /wheels/sluice-*.whl

# ---- final: the virtualenv only; no compilers, wheels or caches ----
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp
RUN groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice
COPY --from=builder /opt/venv /opt/venv
COPY config/sluice.yaml /etc/sluice/sluice.yaml
# The only writable path the process needs; mount a tmpfs/emptyDir here with a read-only root.
VOLUME ["/tmp"]
USER 10001:10001
EXPOSE 8080 9090
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["sluice", "serve"]
CMD ["--config", "/etc/sluice/sluice.yaml"]
