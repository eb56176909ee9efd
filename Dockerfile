# Cantata for CPUs: the embedded Piper voice, no GPU and no download at run time.
#   docker build -t cantata . && docker run -p 50051:50051 -p 9464:9464 cantata
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY protos protos
COPY clients/python clients/python
COPY pyproject.toml ./
COPY server server
COPY runtimes runtimes
RUN python -m venv /opt/cantata \
    && /opt/cantata/bin/pip install --no-cache-dir ./clients/python ".[piper]"

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 cantata \
    && useradd --system --uid 10001 --gid cantata --home-dir /home/cantata --create-home cantata
COPY --from=build /opt/cantata /opt/cantata
ENV PATH=/opt/cantata/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CANTATA_HOST=0.0.0.0 \
    CANTATA_METRICS__HOST=0.0.0.0
USER 10001:10001
WORKDIR /home/cantata
EXPOSE 50051 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s CMD ["cantata", "health"]
ENTRYPOINT ["cantata"]
CMD ["serve"]
