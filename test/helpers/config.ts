/** A gateway configuration for tests: literals, no environment. */
import { loadConfig, type Config } from '../../src/config/config.js';

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ PORT: '0', LOG_LEVEL: 'silent', ...env });
}
