# The example service image from a binary built on the host (images/build.sh
# --service-tag): no builder image, no pull. The build context holds
# service, static and stripped. The final stage must stay identical to the one
# in images/service/Dockerfile except for the COPY source of the service;
# e2e/images_test.go checks it.

ARG PODLIFE_IMAGE=ghcr.io/podlife/podlife:dev
FROM ${PODLIFE_IMAGE} AS podlife

FROM scratch AS service
COPY --from=podlife /podlife/ /podlife/
COPY service /app/service
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="podlife example service" \
      org.opencontainers.image.source="https://github.com/podlife/podlife" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
# Docker's health is readiness: "healthy" means "send it traffic" (what
# compose's depends_on: service_healthy waits for). It turns unhealthy as
# soon as the service starts draining.
HEALTHCHECK --interval=2s --timeout=2s --start-period=10s --retries=2 \
    CMD ["/podlife/probe", "--timeout=1s", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/app/service"]
