/** `npm start`: run the service with configuration from the environment. */
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

const config = loadConfig();
const log = createLogger(config.logLevel);

try {
  const server = await startServer(config, { seed: true });
  const stop = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await server.close();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  log.fatal({ err }, 'could not start');
  process.exit(1);
}
