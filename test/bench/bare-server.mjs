// The baseline: the least a node:net line server can do (PING/ECHO, newline framing).
import net from 'node:net';

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buffered += chunk;
    let out = '';
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      out += line === 'PING' ? 'PONG\n' : line.startsWith('ECHO ') ? `${line.slice(5)}\n` : 'ERR\n';
    }
    if (out) socket.write(out);
  });
  socket.on('error', () => {});
});
// PORT and BACKLOG from the environment (npm run bench); Node's default backlog is 511.
const backlog = process.env.BACKLOG ? Number(process.env.BACKLOG) : undefined;
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog }, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.address().port })}\n`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
