# Every local provider in one image (README: deploy/images); the command picks one:
#   serve-provider NAME  (piper, pocketsphinx, espeak, ffmpeg, imaging, ocr, synthetic)
# Built like router.Dockerfile from prizm/ and wheels/ made on the host; the tools come from the
# Debian mirror, so the build needs the host network (`docker build --network host`).
FROM prizm/base:bookworm AS venv
COPY wheels/ /wheels/
COPY prizm/ /prizm/
RUN python3 -m venv /opt/prizm \
 && /opt/prizm/bin/pip install --no-cache-dir --no-index --find-links /wheels \
      "$(ls /prizm/prizm-*.whl)[local]"

FROM prizm/base:bookworm
# espeak-ng (espeak), ffmpeg (ffmpeg), the DejaVu font (title cards, imaging), libGL and GLib
# (OpenCV, under the OCR provider), sox (audio tools). Before the wheels: this layer stays cached.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      espeak-ng ffmpeg sox fonts-dejavu-core libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/* /usr/share/man/*
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin prizm
COPY --from=venv /opt/prizm /opt/prizm
COPY entrypoint.sh /usr/local/bin/prizm-entrypoint
ENV PATH=/opt/prizm/bin:$PATH HOST=127.0.0.1 PORT=50061 PYTHONDONTWRITEBYTECODE=1
WORKDIR /srv
USER prizm
HEALTHCHECK --interval=5s --timeout=4s --start-period=60s --retries=3 \
  CMD prizm health-probe "127.0.0.1:$PORT" --timeout 3
ENTRYPOINT ["prizm-entrypoint"]
CMD ["serve-provider", "synthetic"]
