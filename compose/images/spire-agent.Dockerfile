# SPIRE agent: the binary scripts/setup builds, laid out like the official image (entrypoint and
# paths), so the compose file's command and healthcheck apply.
ARG BASE
FROM ${BASE}
COPY spire-agent /opt/spire/bin/spire-agent
RUN mkdir -p /var/lib/spire/agent /run/spire/agent/public
ENTRYPOINT ["/opt/spire/bin/spire-agent", "run"]
