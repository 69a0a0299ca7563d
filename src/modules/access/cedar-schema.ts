/**
 * The Cedar schema as data: which actions exist (and which are only groups), which principal and
 * resource types each applies to, and the shape of every entity type. Read once from
 * `schema.cedarschema`, so the schema file is the single list of actions — nothing here repeats
 * it.
 */
import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

export const SCHEMA_FILE = new URL('./schema.cedarschema', import.meta.url);
export const POLICY_DIR = new URL('./policies/', import.meta.url);

/** Action groups are named `group:<name>`; a route may never declare one. */
export const GROUP_PREFIX = 'group:';

export type AttrKind = 'String' | 'Long' | 'Bool' | 'Set' | 'Entity';

export interface EntityShape {
  /** Attribute name → kind and whether it must be present. */
  attrs: ReadonlyMap<string, { kind: AttrKind; entity?: string; required: boolean }>;
  /** The entity may be a child of a Workspace. */
  inWorkspace: boolean;
}

export interface ActionInfo {
  name: string;
  groups: readonly string[];
  principalTypes: readonly string[];
  resourceTypes: readonly string[];
}

export interface SchemaInfo {
  text: string;
  actions: ReadonlyMap<string, ActionInfo>;
  entities: ReadonlyMap<string, EntityShape>;
}

/** Cedar's JSON form of a schema (what `schemaToJson` answers). */
export type SchemaJson = Extract<ReturnType<typeof cedar.schemaToJson>, { type: 'success' }>['json'];

type JsonType = {
  type: string;
  name?: string;
  element?: JsonType;
  required?: boolean;
  attributes?: Record<string, JsonType>;
};

function kindOf(t: JsonType): { kind: AttrKind; entity?: string } {
  if (t.type === 'Set') return { kind: 'Set' };
  const name = t.type === 'EntityOrCommon' || t.type === 'Entity' ? t.name : t.type;
  if (name === 'String' || name === 'Long') return { kind: name };
  if (name === 'Bool' || name === 'Boolean') return { kind: 'Bool' };
  return { kind: 'Entity', entity: name ?? 'unknown' };
}

/** The schema text as Cedar's JSON form; throws with Cedar's message when it does not parse. */
export function schemaTextToJson(text: string): SchemaJson {
  const answer = cedar.schemaToJson(text);
  if (answer.type !== 'success') {
    throw new Error(`the Cedar schema does not parse: ${answer.errors.map((e) => e.message).join('; ')}`);
  }
  return answer.json;
}

/** Parse the schema text; throws with Cedar's message when it does not parse. */
export function loadSchema(text: string = readFileSync(SCHEMA_FILE, 'utf8')): SchemaInfo {
  return schemaFromJson(text, schemaTextToJson(text));
}

/** The schema as data, from `text` and its JSON form (`schemaTextToJson(text)`, or a copy of it). */
export function schemaFromJson(text: string, json: SchemaJson): SchemaInfo {
  const ns = json[''];
  if (!ns) throw new Error('the Cedar schema must use the empty namespace');
  const entities = new Map<string, EntityShape>();
  for (const [name, def] of Object.entries(ns.entityTypes)) {
    const d = def as { memberOfTypes?: string[]; shape?: JsonType };
    const attrs = new Map<string, { kind: AttrKind; entity?: string; required: boolean }>();
    for (const [attr, t] of Object.entries(d.shape?.attributes ?? {}))
      attrs.set(attr, { ...kindOf(t), required: t.required !== false });
    entities.set(name, { attrs, inWorkspace: (d.memberOfTypes ?? []).includes('Workspace') });
  }
  const actions = new Map<string, ActionInfo>();
  for (const [name, def] of Object.entries(ns.actions)) {
    actions.set(name, {
      name,
      groups: (def.memberOf ?? []).map((m) => m.id),
      principalTypes: def.appliesTo?.principalTypes ?? [],
      resourceTypes: def.appliesTo?.resourceTypes ?? [],
    });
  }
  return { text, actions, entities };
}

/** Every action a route may declare (groups excluded), sorted. */
export function routeActions(schema: SchemaInfo): string[] {
  return [...schema.actions.keys()].filter((a) => !a.startsWith(GROUP_PREFIX)).sort();
}
