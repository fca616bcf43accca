-- Know-Your-Agent attestations: submitted by a creator, approved (signed JWS) or rejected by a
-- reviewer, revoked at any time. "expired" is not stored: it is approved with expires_at in the past.
CREATE TABLE kya_attestations (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id              uuid NOT NULL REFERENCES agents (id),
  tenant                text NOT NULL,
  status                text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'rejected', 'revoked', 'superseded')),
  evidence              jsonb NOT NULL CHECK (jsonb_typeof(evidence) = 'object'),
  declared_capabilities jsonb NOT NULL CHECK (jsonb_typeof(declared_capabilities) = 'array'),
  submitted_by          text NOT NULL,
  submitted_at          timestamptz NOT NULL DEFAULT now(),
  level                 smallint CHECK (level BETWEEN 1 AND 3),
  verified_capabilities jsonb CHECK (verified_capabilities IS NULL OR jsonb_typeof(verified_capabilities) = 'array'),
  reviewed_by           text,
  reviewed_at           timestamptz,
  review_notes          text,
  rejection_reason      text,
  issued_at             timestamptz,
  expires_at            timestamptz,
  jws                   text,
  signing_key_id        text,
  revoked_by            text,
  revoked_at            timestamptz,
  revocation_reason     text,
  version               integer NOT NULL DEFAULT 1,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT kya_approved_is_signed CHECK (
    status NOT IN ('approved', 'superseded')
    OR (jws IS NOT NULL AND level IS NOT NULL AND verified_capabilities IS NOT NULL AND issued_at IS NOT NULL AND expires_at IS NOT NULL)
  ),
  CONSTRAINT kya_rejected_has_reason CHECK (status <> 'rejected' OR rejection_reason IS NOT NULL)
);

-- At most one open submission and one live approval per agent.
CREATE UNIQUE INDEX kya_one_pending_per_agent ON kya_attestations (agent_id) WHERE status = 'pending';
CREATE UNIQUE INDEX kya_one_approved_per_agent ON kya_attestations (agent_id) WHERE status = 'approved';
CREATE INDEX kya_page ON kya_attestations (submitted_at, id);
CREATE INDEX kya_agent_page ON kya_attestations (agent_id, submitted_at, id);

GRANT SELECT, INSERT, UPDATE ON kya_attestations TO warden_app;
