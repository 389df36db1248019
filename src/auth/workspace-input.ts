/** Checks of workspace and key inputs: every problem at once, nothing written on any. */
import type { BrazeSettings, MixpanelSettings } from '../config/config.js';
import { US_MIXPANEL_HOST } from '../config/config.js';
import { badInput, type InputProblem } from '../lib/app-error.js';
import { unstorableText } from '../lib/text.js';
import { isScope } from './scopes.js';

export interface WorkspaceInput {
  readonly name: string;
  readonly anonIdLabel?: string | null;
  readonly mixpanel?: {
    readonly token: string;
    readonly apiHost?: string | null;
    readonly idMerge?: 'ORIGINAL' | 'SIMPLIFIED' | null;
    readonly serviceAccount?: string | null;
    readonly projectId?: string | null;
    readonly gdprToken?: string | null;
    readonly gdprApiHost?: string | null;
  } | null;
  readonly braze?: { readonly apiKey: string; readonly restEndpoint: string } | null;
}

export interface ValidWorkspace {
  readonly name: string;
  readonly anonIdLabel: string;
  readonly mixpanel: MixpanelSettings | null;
  readonly braze: BrazeSettings | null;
}

function text(problems: InputProblem[], path: string, value: string, max = 255): void {
  if (value.trim() === '') problems.push({ path, message: 'must not be blank' });
  else if (value.length > max)
    problems.push({ path, message: `must be at most ${max} characters` });
  else if (unstorableText(value)) problems.push({ path, message: unstorableText(value)! });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password
    );
  } catch {
    return false;
  }
}

function httpUrl(problems: InputProblem[], path: string, value: string): void {
  const ok = isHttpUrl(value);
  if (!ok) problems.push({ path, message: 'must be an http(s) URL without credentials' });
}

/** Every string of the input, with its path (settings are stored as jsonb, which refuses NUL). */
function strings(value: unknown, path: string): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => strings(v, `${path}.${k}`));
  }
  return [];
}

export function validateWorkspace(input: WorkspaceInput): ValidWorkspace {
  const problems: InputProblem[] = [];
  for (const [path, value] of strings(input, 'input')) {
    const unstorable = unstorableText(value);
    if (unstorable) problems.push({ path, message: unstorable });
    else if (value.length > 2048)
      problems.push({ path, message: 'must be at most 2048 characters' });
  }
  text(problems, 'input.name', input.name, 200);
  const anonIdLabel = input.anonIdLabel ?? 'anon_id';
  text(problems, 'input.anonIdLabel', anonIdLabel);
  let mixpanel: MixpanelSettings | null = null;
  if (input.mixpanel) {
    const m = input.mixpanel;
    text(problems, 'input.mixpanel.token', m.token);
    if (m.apiHost != null) httpUrl(problems, 'input.mixpanel.apiHost', m.apiHost);
    if (m.gdprToken != null) text(problems, 'input.mixpanel.gdprToken', m.gdprToken);
    if (m.gdprApiHost != null) httpUrl(problems, 'input.mixpanel.gdprApiHost', m.gdprApiHost);
    if (m.serviceAccount != null && !/^[^:\s]+:\S+$/.test(m.serviceAccount)) {
      problems.push({ path: 'input.mixpanel.serviceAccount', message: 'must be user:secret' });
    }
    if ((m.serviceAccount == null) !== (m.projectId == null)) {
      problems.push({
        path: 'input.mixpanel.projectId',
        message: 'give serviceAccount and projectId together',
      });
    }
    mixpanel = {
      token: m.token,
      apiHost: (m.apiHost ?? US_MIXPANEL_HOST).replace(/\/+$/, ''),
      idMerge: m.idMerge ?? 'ORIGINAL',
      serviceAccount: m.serviceAccount ?? null,
      projectId: m.projectId ?? null,
      gdprToken: m.gdprToken ?? null,
      gdprApiHost: m.gdprApiHost?.replace(/\/+$/, '') ?? null,
    };
  }
  let braze: BrazeSettings | null = null;
  if (input.braze) {
    text(problems, 'input.braze.apiKey', input.braze.apiKey);
    httpUrl(problems, 'input.braze.restEndpoint', input.braze.restEndpoint);
    braze = {
      apiKey: input.braze.apiKey,
      restEndpoint: input.braze.restEndpoint.replace(/\/+$/, ''),
    };
  }
  if (problems.length > 0) throw badInput(problems);
  return { name: input.name.trim(), anonIdLabel, mixpanel, braze };
}

export function validateKeyInput(name: string, scopes: readonly string[]): void {
  const problems: InputProblem[] = [];
  text(problems, 'input.name', name, 200);
  if (scopes.length === 0)
    problems.push({ path: 'input.scopes', message: 'give at least one scope' });
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    problems.push({
      path: 'input.scopes',
      message: `unknown scopes: ${unknown.slice(0, 5).join(', ')}`,
    });
  }
  if (problems.length > 0) throw badInput(problems);
}
