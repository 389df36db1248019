/** What a key may do. `admin` implies every scope within its workspace; `root` adds workspaces. */
import { AppError } from '../lib/app-error.js';

export const SCOPES = [
  'profiles:read',
  'users:track',
  'users:alias',
  'users:identify',
  'deliveries:write',
  'users:delete',
  'admin',
  'root',
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function hasScope(granted: readonly string[], needed: Scope): boolean {
  if (granted.includes(needed)) return true;
  return needed !== 'root' && granted.includes('admin');
}

/** Throws FORBIDDEN, naming the scope, unless `granted` carries `needed` (or implies it). */
export function requireScope(granted: readonly string[], needed: Scope): void {
  if (!hasScope(granted, needed)) {
    throw new AppError('FORBIDDEN', `this API key lacks the scope "${needed}"`);
  }
}
