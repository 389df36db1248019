/** What a key may do. `admin` implies every scope within its workspace; `root` adds workspaces. */
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
