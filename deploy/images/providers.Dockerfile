# The provider images (README: deploy/images), one Dockerfile for all of them, chosen by build args:
#   prizm/providers:dev  (defaults)  espeak, ffmpeg, imaging, pocketsphinx, synthetic
#   prizm/piper:dev      --build-arg EXTRAS=piper --build-arg APT_EXTRA= --build-arg PROVIDER=piper
#   prizm/ocr:dev        --build-arg EXTRAS=ocr --build-arg APT_SHARED= --build-arg APT_EXTRA=
#                        --build-arg PROVIDER=ocr
# The heavy extras (ONNX Runtime with Piper's voice; RapidOCR with OpenCV) get images of their own,
# so the light providers do not carry them. Built like router.Dockerfile from prizm/ and wheels/ made
# on the host; Debian's packages come from its mirror (`docker build --network host`).
FROM prizm/base:bookworm AS venv
COPY wheels/ /wheels/
COPY prizm/ /prizm/
# Prizm and its core dependencies first, exactly as router.Dockerfile does it: the builder's cache
# then makes this step once for all four images, and each provider image adds only its extras.
RUN python3 -m venv /opt/prizm \
 && /opt/prizm/bin/pip install --no-cache-dir --no-index --find-links /wheels /prizm/prizm-*.whl
ARG EXTRAS=imaging,pocketsphinx
RUN /opt/prizm/bin/pip install --no-cache-dir --no-index --find-links /wheels \
      "$(ls /prizm/prizm-*.whl)[${EXTRAS}]"

FROM prizm/base:bookworm
# Before any ARG: a RUN after one has the ARG in its cache key. This layer is the router's too.
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin prizm
COPY apt-install.sh /usr/local/sbin/apt-install
# Debian's packages in three layers, from the most shared to the least, so that the provider
# images share what they have in common. libGL and GLib (OpenCV, under RapidOCR) are in every one:
# ffmpeg depends on them too. ffmpeg (the ffmpeg provider; Piper's and espeak's mp3, ogg and flac)
# is in the light and the Piper image.
ARG APT_BASE="libgl1 libglib2.0-0"
RUN apt-install $APT_BASE
ARG APT_SHARED=ffmpeg
RUN apt-install $APT_SHARED
# espeak-ng (espeak), sox (audio tools), the DejaVu font (title cards, imaging).
ARG APT_EXTRA="espeak-ng sox fonts-dejavu-core"
RUN apt-install $APT_EXTRA
COPY --from=venv /opt/prizm /opt/prizm
COPY entrypoint.sh /usr/local/bin/prizm-entrypoint
# What `serve-provider` with no name serves (the entrypoint reads it).
ARG PROVIDER=synthetic
ENV PATH=/opt/prizm/bin:$PATH HOST=127.0.0.1 PORT=50061 PYTHONDONTWRITEBYTECODE=1 \
    PRIZM_PROVIDER=$PROVIDER
WORKDIR /srv
USER prizm
# Piper and OCR load their models before they turn SERVING: a minute's grace.
HEALTHCHECK --interval=5s --timeout=4s --start-period=60s --retries=3 \
  CMD prizm health-probe "127.0.0.1:$PORT" --timeout 3
ENTRYPOINT ["prizm-entrypoint"]
CMD ["serve-provider"]
