/**
 * The identifyUsers request: its shape and the checks that make a request malformed (an error,
 * nothing written) as opposed to an item the rules refuse (REJECTED in the payload).
 */
import { badInput, type InputProblem } from '../lib/app-error.js';
import { prioritizationProblem } from './engine/email-priority.js';
import { MAX_IDENTIFIER_LENGTH } from './engine/identifiers.js';
import type { EmailPrioritization, IdentifyItem, MergeBehavior } from './engine/model.js';
import { labelProblem, textProblem, type UserAliasValue } from './user-ref.js';

/** Braze's limit for one /users/identify call, across all three lists. */
export const MAX_IDENTIFIERS_PER_REQUEST = 50;

export interface IdentifyUsersRequest {
  readonly aliasesToIdentify?: readonly { externalId: string; userAlias: UserAliasValue }[] | null;
  readonly emailsToIdentify?:
    | readonly {
        externalId: string;
        email: string;
        prioritization: readonly EmailPrioritization[];
      }[]
    | null;
  readonly anonIdsToIdentify?: readonly { externalId: string; anonId: string }[] | null;
  readonly mergeBehavior?: MergeBehavior | null;
  readonly idempotencyKey?: string | null;
  readonly dryRun?: boolean | null;
}

export interface ValidIdentify {
  readonly items: IdentifyItem[];
  readonly mergeBehavior: MergeBehavior;
  readonly idempotencyKey: string | null;
  readonly dryRun: boolean;
}

export function validateIdentify(request: IdentifyUsersRequest): ValidIdentify {
  const problems: InputProblem[] = [];
  const text = (path: string, value: string) => {
    const p = textProblem(value, MAX_IDENTIFIER_LENGTH);
    if (p) problems.push({ path, message: p });
  };
  const items: IdentifyItem[] = [];
  (request.aliasesToIdentify ?? []).forEach((a, i) => {
    const path = `input.aliasesToIdentify[${i}]`;
    text(`${path}.externalId`, a.externalId);
    text(`${path}.userAlias.aliasName`, a.userAlias.aliasName);
    const label = labelProblem(a.userAlias.aliasLabel);
    if (label) problems.push({ path: `${path}.userAlias.aliasLabel`, message: label });
    items.push({ kind: 'alias', externalId: a.externalId, alias: { ...a.userAlias } });
  });
  (request.emailsToIdentify ?? []).forEach((e, i) => {
    const path = `input.emailsToIdentify[${i}]`;
    text(`${path}.externalId`, e.externalId);
    text(`${path}.email`, e.email);
    const p = prioritizationProblem(e.prioritization);
    if (p) problems.push({ path: `${path}.prioritization`, message: p });
    items.push({
      kind: 'email',
      externalId: e.externalId,
      email: e.email,
      prioritization: [...e.prioritization],
    });
  });
  (request.anonIdsToIdentify ?? []).forEach((a, i) => {
    const path = `input.anonIdsToIdentify[${i}]`;
    text(`${path}.externalId`, a.externalId);
    text(`${path}.anonId`, a.anonId);
    items.push({ kind: 'anonId', externalId: a.externalId, anonId: a.anonId });
  });
  if (items.length === 0) {
    problems.push({
      path: 'input',
      message: 'give at least one of aliasesToIdentify, emailsToIdentify, anonIdsToIdentify',
    });
  }
  if (items.length > MAX_IDENTIFIERS_PER_REQUEST) {
    problems.push({
      path: 'input',
      message: `at most ${MAX_IDENTIFIERS_PER_REQUEST} identifiers per request across all lists (got ${items.length})`,
    });
  }
  const key = request.idempotencyKey ?? null;
  if (key !== null) {
    const p = key.trim() === '' ? 'must not be blank' : textProblem(key, MAX_IDENTIFIER_LENGTH);
    if (p) problems.push({ path: 'input.idempotencyKey', message: p });
  }
  if (problems.length > 0) throw badInput(problems);
  return {
    items,
    mergeBehavior: request.mergeBehavior ?? 'MERGE',
    idempotencyKey: key,
    dryRun: request.dryRun ?? false,
  };
}
