// http_tap.mjs TARGET_PORT LOG
//
// A recording TCP proxy for looking at what HTTP clients really send: listens
// on a free port of 127.0.0.1 (prints "listening PORT"), forwards every
// connection to 127.0.0.1:TARGET_PORT, and appends one JSON line per
// connection to LOG when it ends:
//   head       the request line and headers as sent (up to the blank line)
//   sent       bytes the client sent in all; body = sent - head length
//   first      the first 160 bytes after the head (the multipart preamble
//              and first part headers), JSON-escaped
//   last       the last 64 bytes the client sent (how it ends its body)
//   status     the status line the server answered
//   server_end ms from the connection's start until the server closed
//   client_end ms until the client closed (or reset) its side
// Node's own node:net, no packages. Exits on SIGTERM.
import fs from 'node:fs';
import net from 'node:net';

const [target, log] = process.argv.slice(2);
let n = 0;
const server = net.createServer((client) => {
  const id = ++n;
  const t0 = Date.now();
  const rec = { id, head: null, sent: 0, first: '', last: '', status: null, server_end: null, client_end: null };
  let inbuf = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  let gotStatus = false;
  const upstream = net.connect(Number(target), '127.0.0.1');
  client.on('data', (d) => {
    rec.sent += d.length;
    tail = Buffer.concat([tail, d]).subarray(-64);
    if (rec.head === null || rec.first.length < 160) {
      inbuf = Buffer.concat([inbuf, d]).subarray(0, 65536);
      const end = inbuf.indexOf('\r\n\r\n');
      if (end >= 0) {
        rec.head = inbuf.subarray(0, end).toString('latin1');
        rec.first = inbuf.subarray(end + 4, end + 4 + 160).toString('latin1');
      }
    }
    upstream.write(d);
  });
  upstream.on('data', (d) => {
    if (!gotStatus) {
      gotStatus = true;
      rec.status = d.toString('latin1').split('\r\n')[0];
    }
    client.write(d);
  });
  let done = 0;
  const finish = () => {
    if (++done < 2) return;
    rec.last = tail.toString('latin1');
    fs.appendFileSync(log, JSON.stringify(rec) + '\n');
  };
  client.on('end', () => upstream.end());
  upstream.on('end', () => client.end());
  client.on('close', () => {
    rec.client_end = Date.now() - t0;
    upstream.destroy();
    finish();
  });
  upstream.on('close', () => {
    rec.server_end = Date.now() - t0;
    client.destroy();
    finish();
  });
  client.on('error', () => {});
  upstream.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
