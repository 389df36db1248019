import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      playground: true,
      introspection: true,
    });
    expect(config.db).toEqual({
      url: null,
      dataDir: './.data',
      sharedBuffersKb: 16 * 1024,
      poolSize: 10,
      readPoolSize: 2,
      timeouts: { statementMs: 30_000, lockMs: 10_000, idleInTransactionMs: 60_000 },
    });
    expect(config.auth).toEqual({ bootstrapApiKey: null, keyCacheMs: 2000 });
    expect(config.outbox).toMatchObject({
      batchSize: 250,
      workers: 3,
      requestsInFlight: 4,
      retentionMs: 7 * 86_400_000,
      deadRetentionMs: 30 * 86_400_000,
    });
    expect(config.limits).toEqual({
      maxIdsPerProfile: 500,
      rateLimitPerMinute: 6000,
      idempotencyTtlMs: 86_400_000,
    });
    expect(config.mixpanel).toBeNull();
    expect(config.braze).toBeNull();
  });

  it('takes CORS_ORIGINS as a list of exact origins, none by default', () => {
    expect(loadConfig({}).http.corsOrigins).toEqual([]);
    expect(
      loadConfig({
        CORS_ORIGINS:
          ' http://localhost:5173, https://admin.example.com ,https://admin.example.com',
      }).http.corsOrigins,
    ).toEqual(['http://localhost:5173', 'https://admin.example.com']);
  });

  it.each([
    ['*', 'is not an origin'],
    ['localhost:5173', 'is not an http or https origin'],
    ['ftp://files.example.com', 'is not an http or https origin'],
    ['https://admin.example.com/', 'write it as https://admin.example.com'],
    ['https://admin.example.com/app', 'write it as https://admin.example.com'],
    ['https://Admin.Example.com', 'write it as https://admin.example.com'],
    ['https://admin.example.com:443', 'write it as https://admin.example.com'],
  ])('refuses CORS_ORIGINS=%s, saying why', (value, why) => {
    let error: unknown;
    try {
      loadConfig({ CORS_ORIGINS: `http://localhost:5173,${value}` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^CORS_ORIGINS: /);
    expect(problems[0]).toContain(why);
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        MAX_IDS_PER_PROFILE: '0',
        BRAZE_API_KEY: 'k',
        MIXPANEL_SERVICE_ACCOUNT: 'u:s',
        DATABASE_LOCK_TIMEOUT_MS: '-1',
        DATABASE_STATEMENT_TIMEOUT_MS: 'soon',
        EMBEDDED_SHARED_BUFFERS: '16 MB',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'MAX_IDS_PER_PROFILE',
      'BRAZE_API_KEY',
      'MIXPANEL_PROJECT_ID',
      'MIXPANEL_TOKEN',
      'DATABASE_LOCK_TIMEOUT_MS',
      'DATABASE_STATEMENT_TIMEOUT_MS',
      'EMBEDDED_SHARED_BUFFERS',
    ]) {
      expect(problems).toContain(name);
    }
  });

  it("takes EMBEDDED_SHARED_BUFFERS in PostgreSQL's units, from 128kB to 1GB", () => {
    const kb = (value: string) => loadConfig({ EMBEDDED_SHARED_BUFFERS: value }).db.sharedBuffersKb;
    expect(kb('128kB')).toBe(128);
    expect(kb(' 64MB ')).toBe(64 * 1024);
    expect(kb('1GB')).toBe(1024 * 1024);
    for (const bad of ['127kB', '2GB', '16', '16mb', '16 MB', '-1MB', '1.5GB', '']) {
      expect(() => loadConfig({ EMBEDDED_SHARED_BUFFERS: bad }), bad).toThrow(
        /EMBEDDED_SHARED_BUFFERS: must be a size from 128kB to 1GB/,
      );
    }
  });

  it('builds vendor settings only for configured vendors, with the US Mixpanel host by default', () => {
    const config = loadConfig({
      MIXPANEL_TOKEN: 'tok',
      BRAZE_API_KEY: 'key',
      BRAZE_REST_ENDPOINT: 'https://rest.fra-01.braze.eu',
    });
    expect(config.mixpanel).toEqual({
      token: 'tok',
      apiHost: 'https://api.mixpanel.com',
      idMerge: 'ORIGINAL',
      serviceAccount: null,
      projectId: null,
      gdprToken: null,
      gdprApiHost: null,
    });
    expect(config.braze).toEqual({ apiKey: 'key', restEndpoint: 'https://rest.fra-01.braze.eu' });
  });

  it('takes the GDPR token and host of the default workspace, only with a project token', () => {
    const config = loadConfig({
      MIXPANEL_TOKEN: 'tok',
      MIXPANEL_GDPR_TOKEN: 'oauth',
      MIXPANEL_GDPR_API_HOST: 'http://127.0.0.1:9999',
    });
    expect(config.mixpanel).toMatchObject({
      gdprToken: 'oauth',
      gdprApiHost: 'http://127.0.0.1:9999',
    });
    expect(() => loadConfig({ MIXPANEL_GDPR_TOKEN: 'oauth' })).toThrow(/MIXPANEL_TOKEN/);
    expect(() => loadConfig({ MIXPANEL_TOKEN: 't', MIXPANEL_GDPR_API_HOST: 'nope' })).toThrow(
      /MIXPANEL_GDPR_API_HOST/,
    );
  });

  it('turns the playground and introspection off in production unless enabled', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).http).toMatchObject({
      playground: false,
      introspection: false,
    });
    expect(loadConfig({ NODE_ENV: 'production', PLAYGROUND: 'true' }).http.playground).toBe(true);
  });
});
