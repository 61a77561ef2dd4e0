# The toolkit image from binaries built on the host: what `make image`
# (images/build.sh) uses, so that it needs no builder image and no pull.
# The build context is a directory holding podlife/{probe,warmup,prestop,install},
# static, stripped and version stamped by images/build.sh.
# The final stage must stay identical to the one in images/Dockerfile except
# for the COPY source; e2e/images_test.go checks it.

FROM scratch AS toolkit
COPY podlife/ /podlife/
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="podlife" \
      org.opencontainers.image.description="Static probe, warmup, prestop and install binaries for graceful Pod lifecycles on Kubernetes" \
      org.opencontainers.image.source="https://github.com/podlife/podlife" \
      org.opencontainers.image.url="https://github.com/podlife/podlife" \
      org.opencontainers.image.documentation="https://github.com/podlife/podlife#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
USER 65532:65532
CMD ["/podlife/probe", "--version"]
