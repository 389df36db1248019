/**
 * The statements of the identifyUsers floor, one per table. The merges of a call come in as
 * parallel arrays: $4 merge ids, $5 survivors, $6 absorbed profiles, $7 external ids, $8 alias
 * names (with $1 workspace, $2 now, $3 the anon-id label); the summary statements take $1
 * workspace, $2 absorbed, $3 survivors.
 */

const MERGES = `unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::text[]) as m(id, s, a, x, n)`;

const FIELDS: [column: string, name: string][] = [
  ['email', 'email'],
  ['first_name', 'firstName'],
  ['last_name', 'lastName'],
  ['gender', 'gender'],
  ['date_of_birth', 'dateOfBirth'],
  ['phone', 'phone'],
  ['time_zone', 'timeZone'],
  ['home_city', 'homeCity'],
  ['country', 'country'],
  ['language', 'language'],
];

const of = (table: string, p: string) =>
  `from ${table} where workspace_id = $1 and profile_id = ${p}.id`;

/** A profile's identifiers and summaries as JSON, read once per profile (lateral `${p}c`). */
function children(p: string): string {
  return `cross join lateral (select
    coalesce((select jsonb_agg(jsonb_build_object('aliasLabel', alias_label,
      'aliasName', alias_name) order by alias_label, alias_name) ${of('aliases', p)}), '[]') as aliases,
    coalesce((select jsonb_agg(jsonb_build_object('name', e.name, 'count', e.count,
      'firstAt', e.first_at, 'lastAt', e.last_at, 'daily', coalesce((select jsonb_object_agg(d.day, d.count)
        from event_daily_counts d where d.workspace_id = $1 and d.profile_id = e.profile_id
        and d.name = e.name), '{}')) order by e.name)
      from event_summaries e where e.workspace_id = $1 and e.profile_id = ${p}.id), '[]') as events,
    (select jsonb_build_object('count', count, 'totalCents', total_cents,
      'firstAt', first_at, 'lastAt', last_at) ${of('purchase_summaries', p)}) as purchases,
    coalesce((select jsonb_agg(jsonb_build_object('appId', app_id, 'token', token,
      'platform', platform) order by app_id, token) ${of('push_tokens', p)}), '[]') as tokens,
    coalesce((select jsonb_agg(jsonb_build_object('appId', app_id, 'sessionCount',
      session_count, 'firstSessionAt', first_session_at, 'lastSessionAt', last_session_at,
      'totalSeconds', total_seconds) order by app_id) ${of('app_sessions', p)}), '[]') as apps
  ) as ${p}c`;
}

/** A profile's whole state as JSON, shaped as the gateway journals it. */
function state(p: string): string {
  const attributes = FIELDS.map(([c, n]) => `'${n}', ${p}.${c}`).join(', ');
  return `jsonb_build_object('id', ${p}.id, 'externalId', ${p}.external_id,
    'attributes', jsonb_build_object(${attributes}),
    'customAttributes', ${p}.custom_attributes, 'sessionCount', ${p}.session_count,
    'firstSessionAt', ${p}.first_session_at, 'lastSessionAt', ${p}.last_session_at,
    'aliases', ${p}c.aliases, 'events', ${p}c.events, 'purchases', ${p}c.purchases,
    'pushTokens', ${p}c.tokens, 'apps', ${p}c.apps,
    'mergedInto', ${p}.merged_into, 'createdAt', ${p}.created_at, 'updatedAt', ${p}.updated_at)`;
}

/** The survivor fields a MERGE changes, in the engine's order. */
const CHANGED_FIELDS = `array_remove(
  array[
    case when jsonb_array_length(apc.aliases) > 0 then 'aliases' end,
    case when jsonb_array_length(apc.tokens) > 0 then 'pushTokens' end,
    ${FIELDS.map(([c, n]) => `case when sp.${c} is null and ap.${c} is not null then '${n}' end`).join(',\n    ')}]
  || array(select 'customAttributes.' || k from jsonb_object_keys(ap.custom_attributes) as k
      where not sp.custom_attributes ? k)
  || array[
    case when ap.session_count > 0 then 'sessionCount' end,
    case when least(sp.first_session_at, ap.first_session_at) is distinct from sp.first_session_at
      then 'firstSessionAt' end,
    case when greatest(sp.last_session_at, ap.last_session_at) is distinct from sp.last_session_at
      then 'lastSessionAt' end]
  || array(select 'events.' || (ev->>'name') from jsonb_array_elements(apc.events) as ev)
  || array[case when apc.purchases is not null then 'purchases' end]
  || array(select 'apps.' || (app->>'appId') from jsonb_array_elements(apc.apps) as app),
  null)`;

export const JOURNAL = `
  insert into merges (workspace_id, id, behavior, survivor_id, absorbed_id, external_id, identifier,
    changed_fields, survivor_before, absorbed_before, created_at)
  select $1, m.id, 'MERGE', m.s, m.a, m.x,
    jsonb_build_object('kind', 'alias', 'aliasLabel', $3::text, 'aliasName', m.n),
    ${CHANGED_FIELDS}, ${state('sp')}, ${state('ap')}, $2
  from ${MERGES}
  join profiles sp on sp.workspace_id = $1 and sp.id = m.s
  join profiles ap on ap.workspace_id = $1 and ap.id = m.a
  ${children('sp')}
  ${children('ap')}`;

const OUTBOX_COLUMNS = `workspace_id, vendor, type, change_id, profile_id, payload, dedupe_key, parked,
  next_attempt_at, created_at, updated_at`;

/**
 * Mixpanel hears of a merge only when anon ids moved; the first row of each (vendor, profile)
 * queue becomes its head unless one waits already (then, as in the gateway, the waiting head is
 * locked by ON CONFLICT ... WHERE false and the row parked behind it).
 */
export const OUTBOX = `
  with c as (
    select m.id as change_id, m.s as profile_id, v.vendor,
      jsonb_build_object('type', 'identity.profiles_merged.v1', 'changeId', m.id,
        'workspaceId', $1::uuid, 'occurredAt', $9::text, 'externalId', m.x, 'profileId', m.s,
        'absorbedProfileId', m.a, 'mergeBehavior', 'MERGE',
        'identifier', jsonb_build_object('kind', 'alias', 'aliasLabel', $3::text, 'aliasName', m.n),
        'anonIdLabel', $3::text, 'anonIds', ab.anon_ids, 'aliases', ab.others,
        'survivorAliasLabels', sv.labels) as payload
    from ${MERGES}
    cross join lateral (select
        coalesce(jsonb_agg(alias_name order by alias_name) filter (where alias_label = $3), '[]') as anon_ids,
        coalesce(jsonb_agg(jsonb_build_object('aliasLabel', alias_label, 'aliasName', alias_name)
          order by alias_label, alias_name) filter (where alias_label <> $3), '[]') as others
      from aliases where workspace_id = $1 and profile_id = m.a) as ab
    cross join lateral (select coalesce(jsonb_agg(distinct alias_label), '[]') as labels
      from aliases where workspace_id = $1 and profile_id = m.s) as sv
    cross join (values ('BRAZE'), ('MIXPANEL')) as v(vendor)
    where v.vendor = 'BRAZE' or jsonb_array_length(ab.anon_ids) > 0
  ), heads as (
    insert into outbox_messages (${OUTBOX_COLUMNS})
    select distinct on (vendor, profile_id) $1, vendor, 'identity.profiles_merged.v1', change_id,
      profile_id, payload, change_id || ':' || lower(vendor), false, $2, $2, $2
    from c order by vendor, profile_id, change_id
    on conflict (workspace_id, vendor, profile_id) where status in ('PENDING', 'RETRYING') and not parked
    do update set parked = excluded.parked where false
    returning dedupe_key
  )
  insert into outbox_messages (${OUTBOX_COLUMNS})
  select $1, vendor, 'identity.profiles_merged.v1', change_id, profile_id, payload,
    change_id || ':' || lower(vendor), true, $2, $2, $2
  from c where change_id || ':' || lower(vendor) not in (select dedupe_key from heads)`;

/** $3 profiles, $4 the other profile of each merge, $5 the role of each: survivor or absorbed. */
export const UPDATE_PROFILES = `
  update profiles p set
    ${FIELDS.map(([c]) => `${c} = case when m.role = 'survivor' then coalesce(p.${c}, o.${c}) else p.${c} end`).join(',\n    ')},
    custom_attributes = case when m.role = 'survivor' then o.custom_attributes || p.custom_attributes
      else p.custom_attributes end,
    session_count = case when m.role = 'survivor' then p.session_count + o.session_count else 0 end,
    first_session_at = case when m.role = 'survivor' then least(p.first_session_at, o.first_session_at) end,
    last_session_at = case when m.role = 'survivor' then greatest(p.last_session_at, o.last_session_at) end,
    merged_into = case when m.role = 'survivor' then p.merged_into else m.other end,
    updated_at = $2
  from unnest($3::uuid[], $4::uuid[], $5::text[]) as m(id, other, role)
  join profiles o on o.workspace_id = $1 and o.id = m.other
  where p.workspace_id = $1 and p.id = m.id`;

/** How a summary column combines: counts add up, first times take the earlier, last the later. */
const COMBINE = { sum: '+', min: 'least', max: 'greatest' } as const;

/** Moves the absorbed profiles' summary rows onto their survivors, adding up what both had. */
function combine(table: string, key: string[], values: [string, keyof typeof COMBINE][]): string {
  const cols = [...key, ...values.map(([c]) => c)];
  const conflict = values.map(([c, how]) =>
    how === 'sum'
      ? `${c} = ${table}.${c} + excluded.${c}`
      : `${c} = ${COMBINE[how]}(${table}.${c}, excluded.${c})`,
  );
  return `
    with moved as (
      delete from ${table} t using unnest($2::uuid[], $3::uuid[]) as u(a, s)
      where t.workspace_id = $1 and t.profile_id = u.a
      returning u.s, ${cols.map((c) => `t.${c}`).join(', ')})
    insert into ${table} (workspace_id, profile_id, ${cols.join(', ')})
    select $1, s, ${[...key, ...values.map(([c, how]) => `${how}(${c})`)].join(', ')}
    from moved group by ${['s', ...key].join(', ')}
    on conflict (${['workspace_id', 'profile_id', ...key].join(', ')}) do update set
      ${conflict.join(', ')}`;
}

export const SUMMARIES = [
  combine(
    'event_summaries',
    ['name'],
    [
      ['count', 'sum'],
      ['first_at', 'min'],
      ['last_at', 'max'],
    ],
  ),
  combine('event_daily_counts', ['name', 'day'], [['count', 'sum']]),
  combine(
    'purchase_summaries',
    [],
    [
      ['count', 'sum'],
      ['total_cents', 'sum'],
      ['first_at', 'min'],
      ['last_at', 'max'],
    ],
  ),
  combine(
    'app_sessions',
    ['app_id'],
    [
      ['session_count', 'sum'],
      ['first_session_at', 'min'],
      ['last_session_at', 'max'],
      ['total_seconds', 'sum'],
    ],
  ),
];
