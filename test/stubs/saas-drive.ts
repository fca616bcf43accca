import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listen, readRequestBody, recordingStub } from "./stub-http.js";
import type { SeenRequest, SseStream, StubUpstream } from "./upstream.js";

/**
 * A stand-in for the Google Drive API v3 (a third party), on loopback, plain HTTP: enough of
 * `files` for an agent acting for a user to read and write. It records every request, so tests
 * assert what reached the provider (and that no delegation token ever did).
 *
 *   GET    /drive/v3/files            list
 *   GET    /drive/v3/files/:id        one file's metadata
 *   POST   /drive/v3/files            create (JSON metadata)
 *   PATCH  /drive/v3/files/:id        update
 *   DELETE /drive/v3/files/:id        delete (204)
 *   anything else                     404 in Google's error shape
 */
interface DriveFile {
  kind: "drive#file";
  id: string;
  name: string;
  mimeType: string;
}

const MAX_BODY_BYTES = 256 * 1024;

export async function startDriveStub(options: { host?: string } = {}): Promise<StubUpstream> {
  const requests: SeenRequest[] = [];
  const files = new Map<string, DriveFile>();
  for (const name of ["Q3 plan.docx", "budget.xlsx"]) {
    const id = randomUUID();
    files.set(id, { kind: "drive#file", id, name, mimeType: "application/octet-stream" });
  }

  const server = createServer((req, res) => {
    const tooLarge = () => send(res, 413, googleError(413, "request too large"));
    void readRequestBody(req, MAX_BODY_BYTES).then((bytes) => {
      if (bytes === null) return tooLarge();
      const body = bytes.toString("utf8");
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      route(req, res, body, files);
    }, tooLarge);
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, host);
  const streams: SseStream[] = [];
  return recordingStub(server, { host, port }, { requests, streams });
}

function route(req: IncomingMessage, res: ServerResponse, body: string, files: Map<string, DriveFile>): void {
  const path = (req.url ?? "/").split("?")[0]!;
  const match = /^\/drive\/v3\/files(?:\/([^/]+))?$/.exec(path);
  if (!match) return send(res, 404, googleError(404, `no route ${path}`));
  const id = match[1];
  const file = id ? files.get(id) : undefined;
  switch (req.method) {
    case "GET":
      if (!id) return send(res, 200, { kind: "drive#fileList", files: [...files.values()] });
      return file ? send(res, 200, file) : send(res, 404, googleError(404, `File not found: ${id}`));
    case "POST": {
      if (id) return send(res, 404, googleError(404, "use POST /drive/v3/files"));
      let name = "Untitled";
      try {
        const parsed = JSON.parse(body || "{}") as { name?: unknown };
        if (typeof parsed.name === "string") name = parsed.name;
      } catch {
        return send(res, 400, googleError(400, "invalid JSON"));
      }
      const created: DriveFile = {
        kind: "drive#file",
        id: randomUUID(),
        name,
        mimeType: "application/octet-stream",
      };
      files.set(created.id, created);
      return send(res, 200, created);
    }
    case "PATCH":
      if (!file) return send(res, 404, googleError(404, `File not found: ${id ?? ""}`));
      return send(res, 200, file);
    case "DELETE":
      if (!file) return send(res, 404, googleError(404, `File not found: ${id ?? ""}`));
      files.delete(file.id);
      res.writeHead(204).end();
      return;
    default:
      return send(res, 405, googleError(405, "method not allowed"));
  }
}

function googleError(code: number, message: string) {
  return { error: { code, message, errors: [{ message, domain: "global", reason: "stub" }] } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" }).end(JSON.stringify(body));
}
