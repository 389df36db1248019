/**
 * Who is calling: turns a bearer key into the workspace and scopes it acts with, and on the first
 * start of an empty database creates the default workspace and its first admin key.
 */
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import { AppError } from '../lib/app-error.js';
import { isUuid, uuidv7 } from '../lib/uuid.js';
import { AuthRepository, type ApiKeyRow, type WorkspaceRow } from './auth-repository.js';
import { KeyCache } from './key-cache.js';
import { generateApiKey, hashApiKey, sameHash } from './keys.js';
import { hasScope, isScope } from './scopes.js';
import { validateKeyInput, validateWorkspace, type WorkspaceInput } from './workspace-input.js';

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
  private readonly keys: KeyCache<Principal>;

  /** `keyCacheMs`: how long a key, once found, is trusted without asking the database again. */
  constructor(
    private readonly db: Db,
    keyCacheMs = 0,
  ) {
    this.repo = new AuthRepository(db);
    this.keys = new KeyCache(keyCacheMs);
  }

  /** The principal behind an `Authorization` header value; UNAUTHENTICATED otherwise. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) {
      throw new AppError('UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>"');
    }
    const hash = hashApiKey(match[1]);
    const cached = this.keys.get(hash);
    if (cached) return cached;
    const key = await this.repo.findActiveKey(hash);
    // Found by hash; the stored hash is still compared in constant time before it is trusted.
    if (!key || !sameHash(key.keyHash, hash)) {
      throw new AppError('UNAUTHENTICATED', 'the API key is unknown or revoked');
    }
    const principal = {
      keyId: key.id,
      workspaceId: key.workspaceId,
      anonIdLabel: key.anonIdLabel,
      scopes: key.scopes,
    };
    this.keys.set(hash, principal);
    return principal;
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
  async createWorkspace(
    input: WorkspaceInput,
  ): Promise<{ workspace: WorkspaceRow; key: CreatedKey }> {
    const valid = validateWorkspace(input);
    const secret = generateApiKey();
    return this.db.transaction(async (tx) => {
      const workspace = await this.repo.insertWorkspace(tx, { id: uuidv7(), ...valid });
      const row = await this.repo.insertKey(tx, {
        workspaceId: workspace.id,
        id: uuidv7(),
        name: 'admin',
        keyHash: hashApiKey(secret),
        scopes: ['admin'],
      });
      return { workspace, key: { row, key: secret } };
    });
  }

  /**
   * Creates a key in the caller's workspace; the key is returned once. A key cannot be given a
   * scope its creator lacks (an admin key cannot mint a root key).
   */
  async createApiKey(principal: Principal, name: string, scopes: string[]): Promise<CreatedKey> {
    validateKeyInput(name, scopes);
    const missing = scopes.filter((s) => isScope(s) && !hasScope(principal.scopes, s));
    if (missing.length > 0) {
      throw new AppError(
        'FORBIDDEN',
        `this API key cannot grant scopes it lacks: ${missing.join(', ')}`,
      );
    }
    const key = generateApiKey();
    const row = await this.repo.insertKey(this.db, {
      workspaceId: principal.workspaceId,
      id: uuidv7(),
      name: name.trim(),
      keyHash: hashApiKey(key),
      scopes: [...new Set(scopes)],
    });
    return { row, key };
  }

  /** Revokes a key of the caller's workspace; it stops working with the next request. */
  async revokeApiKey(principal: Principal, id: string): Promise<ApiKeyRow> {
    if (!isUuid(id)) throw new AppError('BAD_USER_INPUT', 'id: is not an API key id');
    const row = await this.repo.revokeKey(principal.workspaceId, id, new Date());
    if (!row) throw new AppError('NOT_FOUND', `no API key ${id} in this workspace`);
    this.keys.forgetKey(id);
    return row;
  }
}

export interface CreatedKey {
  readonly row: ApiKeyRow;
  readonly key: string;
}
