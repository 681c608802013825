# The Prizm router (README: deploy/images). Built from a context holding prizm/ (Prizm's wheel, built
# on the host) and wheels/ (its dependencies, downloaded on the host): pip inside a build cannot
# verify TLS here, so the image installs those wheels and nothing from an index.
FROM prizm/base:bookworm AS venv
COPY wheels/ /wheels/
COPY prizm/ /prizm/
RUN python3 -m venv /opt/prizm \
 && /opt/prizm/bin/pip install --no-cache-dir --no-index --find-links /wheels /prizm/prizm-*.whl

# The wheels stay in the first stage: only the environment made from them is shipped.
FROM prizm/base:bookworm
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin prizm
COPY --from=venv /opt/prizm /opt/prizm
COPY entrypoint.sh /usr/local/bin/prizm-entrypoint
# Containers run on the host network: loopback unless deliberately exposed (DESIGN §7).
ENV PATH=/opt/prizm/bin:$PATH HOST=127.0.0.1 PORT=50051 PYTHONDONTWRITEBYTECODE=1
WORKDIR /srv
USER prizm
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=3 \
  CMD prizm health-probe "127.0.0.1:$PORT" --timeout 3
ENTRYPOINT ["prizm-entrypoint"]
CMD ["router"]
