# SPIRE server: the binary scripts/setup builds, where the official image has it, under the official
# image's user (1000) and with its entrypoint, so the compose file's command and healthcheck apply.
ARG BASE
FROM ${BASE}
COPY spire-server /opt/spire/bin/spire-server
RUN mkdir -p /var/lib/spire/server /run/spire/server/private \
  && chown 1000:1000 /var/lib/spire/server /run/spire/server/private
USER 1000:1000
ENTRYPOINT ["/opt/spire/bin/spire-server", "run"]
