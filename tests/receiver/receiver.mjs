// A webhook receiver for the integration tests: it verifies every delivery with the Standard
// Webhooks project's own library (not Clavis's code) and keeps what it received.
//
// Control (JSON over HTTP, on the same port):
//   POST /_configure {"path": "/a", "secrets": ["whsec_…"], "answers": [500, 204]}
//     secrets a delivery to `path` is verified against, each on its own; answers given in
//     turn (the last one repeats; 204 when none).
//   GET  /_received  → [{"path", "id", "timestamp", "type", "verified": [bool per secret],
//                        "signatures": n, "body"}]
// It prints "listening <port>" once it accepts connections.

import http from "node:http";
import { Webhook } from "standardwebhooks";

const endpoints = new Map();
const received = [];

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function verified(secret, body, headers) {
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

const server = http.createServer(async (request, response) => {
  const body = await readBody(request);
  const path = new URL(request.url, "http://receiver").pathname;
  if (path === "/_configure" && request.method === "POST") {
    const { path: endpoint, secrets = [], answers = [] } = JSON.parse(body);
    const known = endpoints.get(endpoint) ?? { secrets: [], answers: [] };
    endpoints.set(endpoint, { secrets: secrets.length ? secrets : known.secrets, answers });
    response.writeHead(204).end();
    return;
  }
  if (path === "/_received" && request.method === "GET") {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received));
    return;
  }
  const endpoint = endpoints.get(path) ?? { secrets: [], answers: [] };
  const headers = {
    "webhook-id": request.headers["webhook-id"] ?? "",
    "webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
    "webhook-signature": request.headers["webhook-signature"] ?? "",
  };
  let type = null;
  try {
    type = JSON.parse(body).type ?? null;
  } catch {}
  received.push({
    path,
    id: headers["webhook-id"],
    timestamp: headers["webhook-timestamp"],
    type,
    contentType: request.headers["content-type"] ?? null,
    verified: endpoint.secrets.map((secret) => verified(secret, body, headers)),
    signatures: headers["webhook-signature"].split(" ").filter(Boolean).length,
    body,
  });
  const status = endpoint.answers.length > 1 ? endpoint.answers.shift() : (endpoint.answers[0] ?? 204);
  response.writeHead(status).end();
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
