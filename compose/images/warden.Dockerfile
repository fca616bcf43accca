# The Warden image, as compose/Dockerfile makes it (same layout under /app, same entrypoint, users and
# volume mount points), from this checkout's build instead of an npm ci in a node image:
# app/ is staged by build.sh (dist/, the policy bundle, production node_modules, the files the
# compiled code reads), node is the host's Node 20 binary, spire-server the pinned SPIRE CLI.
ARG BASE
FROM ${BASE}
ENV NODE_ENV=production
WORKDIR /app
COPY node /usr/local/bin/node
COPY spire-server /usr/local/bin/spire-server
COPY app/ /app/
# Mount points of the volumes these containers write, owned by the uid that writes them
# (compose/Dockerfile says which is which).
RUN mkdir -p /var/lib/warden/policy /var/lib/warden/extproc /var/lib/warden/authz \
    /var/lib/warden/control-plane /var/lib/warden/oidc /run/spire/server/private /run/spire/bootstrap \
  && chown 10002:10002 /var/lib/warden/policy /var/lib/warden/authz \
  && chown 10004:10004 /var/lib/warden/control-plane \
  && chown 10003:10003 /var/lib/warden/extproc \
  && chown 10005:10005 /var/lib/warden/oidc && chmod 0700 /var/lib/warden/oidc \
  && chown 1000:1000 /run/spire/server/private /run/spire/bootstrap \
  && chmod 0755 compose/bin/entrypoint.sh
USER 65534:65534
ENTRYPOINT ["/app/compose/bin/entrypoint.sh"]
CMD ["node", "dist/authz-server/src/main.js"]
