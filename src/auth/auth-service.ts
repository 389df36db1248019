/**
 * Who is calling: turns a bearer key into the workspace and scopes it acts with, and on the first
 * start of an empty database creates the default workspace and its first admin key.
 */
import type { BrazeSettings, Config, MixpanelSettings } from '../config/config.js';
import type { Db } from '../db/client.js';
import { AppError } from '../lib/app-error.js';
import { uuidv7 } from '../lib/uuid.js';
import { AuthRepository, type WorkspaceRow } from './auth-repository.js';
import { generateApiKey, hashApiKey } from './keys.js';
import { isScope } from './scopes.js';

export interface Principal {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly anonIdLabel: string;
  readonly scopes: readonly string[];
}

export interface BootstrapResult {
  readonly workspace: WorkspaceRow;
  /** The admin key created on this start, to be shown once; null when keys existed already. */
  readonly createdKey: string | null;
}

export class AuthService {
  private readonly repo: AuthRepository;

  constructor(private readonly db: Db) {
    this.repo = new AuthRepository(db);
  }

  /** The principal behind an `Authorization` header value; UNAUTHENTICATED otherwise. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) {
      throw new AppError('UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>"');
    }
    const key = await this.repo.findActiveKey(hashApiKey(match[1]));
    if (!key) throw new AppError('UNAUTHENTICATED', 'the API key is unknown or revoked');
    return {
      keyId: key.id,
      workspaceId: key.workspaceId,
      anonIdLabel: key.anonIdLabel,
      scopes: key.scopes,
    };
  }

  findWorkspace(id: string): Promise<WorkspaceRow | null> {
    return this.repo.findWorkspace(id);
  }

  /**
   * On a database without keys, creates the default workspace with an admin key (the configured
   * bootstrap key, or a random one returned to be printed once). Keeps the default workspace's
   * vendor settings in step with the environment. Safe when several processes start together.
   */
  async bootstrap(config: Config): Promise<BootstrapResult> {
    const vendors = { mixpanel: config.mixpanel, braze: config.braze };
    return this.db.transaction(async (tx) => {
      await this.repo.lockBootstrap(tx);
      const existing = await this.repo.findDefaultWorkspace(tx);
      const workspace =
        existing ??
        (await this.repo.insertWorkspace(tx, {
          id: uuidv7(),
          name: 'default',
          isDefault: true,
          ...vendors,
        }));
      if (existing && (config.mixpanel || config.braze)) {
        await this.repo.updateVendorSettings(tx, existing.id, vendors);
      }
      if (await this.repo.anyKeyExists(tx)) return { workspace, createdKey: null };
      const key = config.auth.bootstrapApiKey ?? generateApiKey();
      await this.repo.insertKey(tx, {
        workspaceId: workspace.id,
        id: uuidv7(),
        name: 'bootstrap',
        keyHash: hashApiKey(key),
        scopes: ['root', 'admin'],
      });
      return { workspace, createdKey: config.auth.bootstrapApiKey ? null : key };
    });
  }

  /** Creates a workspace with a first admin key, returned once. */
  async createWorkspace(input: {
    name: string;
    anonIdLabel?: string;
    mixpanel?: MixpanelSettings | null;
    braze?: BrazeSettings | null;
  }): Promise<{ workspace: WorkspaceRow; key: string }> {
    const key = generateApiKey();
    const workspace = await this.db.transaction(async (tx) => {
      const created = await this.repo.insertWorkspace(tx, {
        id: uuidv7(),
        name: input.name,
        ...(input.anonIdLabel ? { anonIdLabel: input.anonIdLabel } : {}),
        mixpanel: input.mixpanel ?? null,
        braze: input.braze ?? null,
      });
      await this.repo.insertKey(tx, {
        workspaceId: created.id,
        id: uuidv7(),
        name: 'admin',
        keyHash: hashApiKey(key),
        scopes: ['admin'],
      });
      return created;
    });
    return { workspace, key };
  }

  /** Creates a key in a workspace with the given scopes; the key is returned once. */
  async createApiKey(workspaceId: string, name: string, scopes: string[]): Promise<string> {
    const bad = scopes.filter((s) => !isScope(s));
    if (bad.length > 0) throw new AppError('BAD_USER_INPUT', `unknown scopes: ${bad.join(', ')}`);
    const key = generateApiKey();
    await this.repo.insertKey(this.db, {
      workspaceId,
      id: uuidv7(),
      name,
      keyHash: hashApiKey(key),
      scopes,
    });
    return key;
  }
}
