// media_server.mjs DIR
//
// A local HTTP server for tests/integration/url_input.sh: inputs by URL,
// good and hostile. Node's own node:http, no packages. Listens on a free
// port of 127.0.0.1 and prints "listening PORT" on stdout. Every path
// accepts any query string (the test tags requests with ?tag=NAME).
//
//   /NAME            the file DIR/NAME, with its Content-Length; 404 if none
//   /auth/NAME       the same behind HTTP basic auth (user "alice", password
//                    "s3cret"); 401 without them
//   /error.wav       500, every time
//   /flaky/NAME      500 the first time for a tag, then DIR/NAME
//   /trickle.wav     200, then 16 bytes a second: under any sane low-speed limit
//   /drip.wav        200, then 8 KiB every 100 ms forever: fast, but never done
//   /huge.wav        200 announcing 1 TiB (Content-Length), then a trickle
//   /silent.wav      accepts the request and never answers, not even headers
//   /to-file.wav     302 to file:///etc/passwd
//   /redirect/HOST:PORT/REST  302 to http://HOST:PORT/REST (the query kept)
//
// /_open?tag=NAME answers the number of requests with that tag still open
// (the client has not gone), /_hits?tag=NAME how many there were. Exits
// on SIGTERM, or when its parent (the test) is gone.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const dir = process.argv[2];
const open = new Map();
const hits = new Map();
const bump = (m, k, d) => m.set(k, (m.get(k) || 0) + d);

function sendFile(res, name) {
  let body;
  try {
    body = fs.readFileSync(path.join(dir, path.basename(name)));
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end('no such thing\n');
  }
  res.writeHead(200, { 'Content-Type': 'audio/wav', 'Content-Length': body.length });
  res.end(body);
}

// Write chunk every ms milliseconds until the client goes.
function forever(req, res, headers, chunk, ms) {
  res.writeHead(200, headers);
  res.flushHeaders(); // the status now, the body at its pace
  const t = setInterval(() => res.write(chunk), ms);
  req.socket.on('close', () => clearInterval(t));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const tag = url.searchParams.get('tag') || '';
  if (url.pathname === '/_open' || url.pathname === '/_hits') {
    const m = url.pathname === '/_open' ? open : hits;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`${m.get(tag) || 0}\n`);
    return;
  }
  bump(hits, tag, 1);
  bump(open, tag, 1);
  req.socket.on('close', () => bump(open, tag, -1));
  const [, first, ...rest] = url.pathname.split('/');
  const name = rest.join('/');
  if (first === 'auth') {
    if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="hark"' });
      return res.end('who are you?\n');
    }
    return sendFile(res, name);
  }
  if (first === 'redirect') {
    const [authority, ...tail] = rest;
    res.writeHead(302, { Location: `http://${authority}/${tail.join('/')}${url.search}` });
    return res.end();
  }
  if (first === 'flaky') {
    if (hits.get(tag) === 1) {
      res.writeHead(500);
      return res.end('oops\n');
    }
    return sendFile(res, name);
  }
  switch (url.pathname) {
    case '/error.wav':
      res.writeHead(500);
      return res.end('oops\n');
    case '/trickle.wav':
      return forever(req, res, { 'Content-Type': 'audio/wav' }, Buffer.from('RIFF....WAVEfmt '), 1000);
    case '/drip.wav':
      return forever(req, res, { 'Content-Type': 'audio/wav' }, Buffer.alloc(8192), 100);
    case '/huge.wav':
      return forever(req, res, { 'Content-Type': 'audio/wav', 'Content-Length': 2 ** 40 },
        Buffer.alloc(16), 1000);
    case '/silent.wav':
      return; // never a word
    case '/to-file.wav':
      res.writeHead(302, { Location: 'file:///etc/passwd' });
      return res.end();
    default:
      return sendFile(res, url.pathname);
  }
});
// No idle or request timeouts of our own: the client's limits are under test.
server.requestTimeout = 0;
server.headersTimeout = 0;
server.keepAliveTimeout = 1000;
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
