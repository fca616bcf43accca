# PostgreSQL 15: Debian's package, the one scripts/setup installs for the tests, with an entrypoint
# that does what the compose stack uses of the official image's (postgres-entrypoint.sh).
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \
  && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/15 /etc/postgresql/15 \
  && mkdir -p /var/lib/postgresql/data /docker-entrypoint-initdb.d \
  && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]
