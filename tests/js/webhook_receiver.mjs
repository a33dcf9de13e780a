// webhook_receiver.mjs --secret-file FILE --log FILE --port-file FILE
//
// A webhook receiver for tests/integration/webhooks.sh, written the way
// docs/operations.md tells receivers to verify hark's signatures, with
// Node's own modules only (node:http, node:crypto).
//
// It listens on 127.0.0.1 at a free port, written to the port file once it
// listens. The path says how to answer:
//     /ok/0/NAME      200
//     /fail/N/NAME    500 to the first N requests on this path, then 200
//     /hang/N/NAME    never answer the first N requests on this path, then 200
//     /leak/0/NAME    403 with a body a sender must not repeat (LEAKED-ANSWER ...)
// A request whose signature does not verify gets 401 whatever the path.
//
// Every request is appended to the log when it arrives, one JSON object a
// line: {time, method, path, headers (lower-case names), body (the raw
// body), verified, status (the answer; null for one never sent)}.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['secret-file', 'log', 'port-file']) {
  if (!args[k]) {
    console.error(`webhook_receiver: --${k} is required`);
    process.exit(2);
  }
}
// The secret as hark reads its --webhook-secret-file: without the final line ending.
const secret = fs.readFileSync(args['secret-file'], 'utf8').replace(/\r?\n$/, '');
const seen = new Map(); // path -> requests so far

// docs/operations.md: HMAC-SHA256 over "<X-Hark-Timestamp>.<raw body>",
// compared in constant time; the timestamp within 5 minutes of our clock.
function verify(headers, raw) {
  const ts = headers['x-hark-timestamp'] || '';
  const sig = headers['x-hark-signature'] || '';
  if (!/^[0-9]+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const want = 'sha256=' + crypto.createHmac('sha256', secret).update(`${ts}.`).update(raw).digest('hex');
  const a = Buffer.from(want);
  const b = Buffer.from(sig);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(parts);
    const verified = verify(req.headers, raw);
    const n = (seen.get(req.url) || 0) + 1;
    seen.set(req.url, n);
    const m = /^\/(ok|fail|hang|leak)\/([0-9]+)\//.exec(req.url);
    let status = 200;
    if (!verified) status = 401;
    else if (!m) status = 404;
    else if (m[1] === 'fail' && n <= Number(m[2])) status = 500;
    else if (m[1] === 'hang' && n <= Number(m[2])) status = null;
    else if (m[1] === 'leak') status = 403;
    const entry = {
      time: Date.now() / 1000, method: req.method, path: req.url, headers: req.headers,
      body: raw.toString('utf8'), verified, status,
    };
    fs.appendFileSync(args.log, JSON.stringify(entry) + '\n');
    if (status === null) return; // never answered: hark's timeout ends it
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(status === 200 ? 'thanks\n' : status === 403 ? 'LEAKED-ANSWER internal data\n' : 'no\n');
  });
});
server.requestTimeout = 0; // a hanging request stays open until the client leaves
server.listen(0, '127.0.0.1', () => {
  const tmp = `${args['port-file']}.tmp`;
  fs.writeFileSync(tmp, `${server.address().port}\n`);
  fs.renameSync(tmp, args['port-file']);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
