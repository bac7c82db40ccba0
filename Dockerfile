# The Redwall image for docker-compose.yml: one image (built once, by the `migrate` service), one service
# per `redwall` command. No street's files and no secret in it (.dockerignore): they are mounted at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# The weekly report's PDF (WeasyPrint) needs pango, and a CJK font to write its Chinese.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p streams consumers schemas sinks config benchmarks \
    && for p in streams consumers schemas sinks config benchmarks; do touch $p/__init__.py; done \
    && pip install . && pip uninstall -y redwall && rm -rf streams consumers schemas sinks config benchmarks

COPY streams streams
COPY consumers consumers
COPY schemas schemas
COPY sinks sinks
COPY config config
COPY benchmarks benchmarks
RUN pip install --no-deps . && useradd --system --uid 10001 redwall
USER redwall

EXPOSE 6066 6070 9100 9101 9102
CMD ["redwall", "worker"]
