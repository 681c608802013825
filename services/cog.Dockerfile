# A Cog predictor's folder as an image, as `cog build` would make it: any service whose model is a
# Cog predictor names its folder as the build context and this file from outside it (the Docker SDK
# sends such a Dockerfile along with the context): services/piper, and the test predictors of
# tests/fixtures/cog. The folder holds predict.py (predict.py:Predictor), .cog/openapi_schema.json
# (what Cog serves as /openapi.json; scripts/cog_schema.py writes it) and wheels/: the manifest's
# build.wheels, downloaded on the host, because pip inside a build cannot verify TLS here, so the
# image installs those wheels and nothing from an index.
FROM prizm/base:bookworm AS venv
COPY wheels/ /wheels/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl

# The wheels stay in the first stage: only the environment made from them is shipped.
FROM prizm/base:bookworm
COPY --from=venv /opt/venv /opt/venv
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin cog
WORKDIR /srv
COPY .cog/ .cog/
COPY predict.py ./
ENV COG_PREDICT_TYPE_STUB=predict.py:Predictor \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PORT=5000
USER cog
# The port comes from PORT; the container runs on the host network, so it binds loopback only.
CMD ["/opt/venv/bin/python", "-m", "cog.server.http", "--host", "127.0.0.1"]
