# envoyproxy/ratelimit: the binary scripts/setup builds (its pinned commit), where the official image
# has it (/bin/ratelimit).
ARG BASE
FROM ${BASE}
COPY ratelimit /bin/ratelimit
USER 65534:65534
CMD ["/bin/ratelimit"]
