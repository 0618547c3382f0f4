/**
 * The baseline server: a plain Fastify JSON endpoint, started the same way as
 * the service under test (a child process under `node --import tsx`), so the
 * service's figures can be read as a ratio of what this machine can do now.
 */
import fastify from 'fastify';

const app = fastify();
app.get('/ping', async () => ({ ok: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;

async function stop(): Promise<void> {
  await app.close();
  process.exit(0);
}

process.on('message', (msg: { type?: string }) => {
  if (msg?.type === 'stop') void stop();
});
// The parent went away: do not linger.
process.on('disconnect', () => void stop());
process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
