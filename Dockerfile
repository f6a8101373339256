# traitkg, CPU image: `traitkg serve` (SPARQL endpoint, REST API, web page) on a store volume.
#   docker build -t traitkg .
#   docker run -p 8000:8000 -v traitkg-data:/data traitkg                       # serve /data/store
#   docker run -v traitkg-data:/data traitkg demo --no-serve                    # load the bundled sample
#   docker run -v traitkg-data:/data -v "$PWD/in:/in:ro" traitkg load tree /in/tree.nwk
# The GPU image for gnn/ is Dockerfile.cuda.
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="traitkg" \
      org.opencontainers.image.description="Knowledge graph and ontology service linking organismal traits to phylogeny" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRAITKG_STORE=oxigraph:/data/store

WORKDIR /opt/traitkg
COPY pyproject.toml README.md ./
COPY kg ./kg
COPY ontologies ./ontologies
COPY loaders ./loaders
COPY api ./api
COPY gnn ./gnn
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 traitkg \
    && mkdir -p /data \
    && chown traitkg /data

USER 10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
ENTRYPOINT ["traitkg"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
