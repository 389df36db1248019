/** A gateway configuration for tests: literals, no environment. */
import { loadConfig, type Config } from '../../src/config/config.js';

export function testConfig(env: Record<string, string> = {}): Config {
  // Tests that deliver run a dispatcher of their own, so the gateway's is off unless asked for.
  return loadConfig({ PORT: '0', LOG_LEVEL: 'silent', OUTBOX_DISPATCHER: 'false', ...env });
}
