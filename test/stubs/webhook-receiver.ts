import { createServer, type IncomingHttpHeaders } from "node:http";
import {
  EVENT_ID_HEADER,
  ReplayGuard,
  SIGNATURE_HEADER,
  verifySignature,
} from "../../lib/src/webhooks/signature.js";
import { closeServer, listen, readRequestBody, sendJson } from "./stub-http.js";

/**
 * A webhook receiver as a customer would write one, with the shipped verification helper: the
 * signature over the raw body and its timestamp (5-minute window) first, then the event id against
 * the ids already accepted (a replay is refused). `failFirst` answers 500 to the first n attempts of
 * every event, before it is accepted, so the sender's retries can be observed.
 */
export interface ReceivedDelivery {
  /** When it arrived (ms since the epoch). */
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  verdict: "accepted" | "failed_on_purpose" | "malformed" | "bad_signature" | "outside_window" | "replay";
}

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedDelivery[];
  /** The subscription's secret, once the subscription was made. */
  secret: string;
  /** Answer 500 to the first n attempts of each event. */
  failFirst: number;
  /** Answer this status to everything (after verifying), e.g. 500 for a receiver that is down. */
  alwaysStatus: number | null;
  accepted(): ReceivedDelivery[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(host = "127.0.0.1"): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  const guard = new ReplayGuard();
  const attemptsSeen = new Map<string, number>();
  const state = { secret: "", failFirst: 0, alwaysStatus: null as number | null };

  const server = createServer((req, res) => {
    void readRequestBody(req, 1024 * 1024).then((raw) => {
      const body = raw?.toString("utf8") ?? "";
      const answer = (status: number, verdict: ReceivedDelivery["verdict"]) => {
        received.push({ at: Date.now(), headers: req.headers, body, status, verdict });
        sendJson(res, status, { verdict });
      };
      const header = req.headers[SIGNATURE_HEADER];
      const verified = verifySignature({
        header: typeof header === "string" ? header : undefined,
        body: raw ?? Buffer.alloc(0),
        secret: state.secret,
      });
      if (!verified.ok) return answer(verified.failure === "outside_window" ? 400 : 401, verified.failure);
      const eventId = String(req.headers[EVENT_ID_HEADER] ?? "");
      const seen = (attemptsSeen.get(eventId) ?? 0) + 1;
      attemptsSeen.set(eventId, seen);
      if (state.alwaysStatus !== null) return answer(state.alwaysStatus, "failed_on_purpose");
      if (seen <= state.failFirst) return answer(500, "failed_on_purpose");
      if (!guard.accept(eventId)) return answer(409, "replay");
      return answer(200, "accepted");
    });
  });
  const port = await listen(server, host);
  return {
    url: `http://${host}:${port}/hooks/warden`,
    received,
    get secret() {
      return state.secret;
    },
    set secret(value: string) {
      state.secret = value;
    },
    get failFirst() {
      return state.failFirst;
    },
    set failFirst(value: number) {
      state.failFirst = value;
    },
    get alwaysStatus() {
      return state.alwaysStatus;
    },
    set alwaysStatus(value: number | null) {
      state.alwaysStatus = value;
    },
    accepted: () => received.filter((r) => r.verdict === "accepted"),
    close: () => closeServer(server),
  };
}
