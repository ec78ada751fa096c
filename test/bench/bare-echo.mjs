// The baseline for `--protocol echo`: the least a node:net echo server can do.
import net from 'node:net';

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  socket.pipe(socket);
});
// PORT and BACKLOG from the environment (npm run bench); Node's default backlog is 511.
const backlog = process.env.BACKLOG ? Number(process.env.BACKLOG) : undefined;
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog }, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.address().port })}\n`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
