/**
 * Actor and resource → one Cedar request (principal, resource, context, entity slice).
 *
 * - Principal: `User`, `ServiceAccount` or `Operator` from `actor.kind`. A user or service
 *   account that acts in a workspace is a child of it and carries `workspace` and `roles` (the
 *   roles it holds there); without a workspace it has no roles at all.
 * - Attributes are normalised here, never trusted as typed: clearance must be a non-negative
 *   integer (else 0), department/region strings (else ""). A wrongly typed attribute would make a
 *   Cedar `forbid` error out, and an erroring forbid is skipped — so it never reaches Cedar.
 * - Context: `mfa` (attributes.mfa === true, or an auth method naming a second factor) and
 *   `authMethod`.
 * - Resource: given by the caller, or by default the actor itself (`identity.self.*`), the
 *   actor's workspace (route-level checks before the concrete resource is known), or `System`.
 */
import type { EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Actor } from '../../core/actor.ts';
import { GROUP_PREFIX, type ActionInfo, type EntityShape, type SchemaInfo } from './cedar-schema.ts';

export type { ResourceRef } from '../../core/resource.ts';
import type { ResourceRef } from '../../core/resource.ts';

export interface CedarRequest {
  principal: EntityUidJson;
  resource: EntityUidJson;
  context: { mfa: boolean; authMethod: string };
  entities: EntityJson[];
}

const PRINCIPAL_TYPE: Partial<Record<Actor['kind'], string>> = {
  user: 'User',
  service: 'ServiceAccount',
  operator: 'Operator',
};
const SECOND_FACTOR = /(^|[+:])(totp|webauthn|mfa|recovery-code)\b/;
const SYSTEM_ID = 'strongroom';

/** `workspace-key` → `WorkspaceKey`; a Cedar type name stays as is. */
export function cedarTypeName(type: string): string {
  return type
    .split(/[-_]/)
    .map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join('');
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function clearance(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,6}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

const wsUid = (id: string): { type: string; id: string } => ({ type: 'Workspace', id });

/** Defaults for required attributes the caller did not give (e.g. a User named as a resource). */
function fillRequired(shape: EntityShape, attrs: Record<string, unknown>): void {
  for (const [name, a] of shape.attrs) {
    if (!a.required || name in attrs) continue;
    attrs[name] =
      a.kind === 'String' ? '' : a.kind === 'Long' ? 0 : a.kind === 'Bool' ? false : a.kind === 'Set' ? [] : undefined;
  }
}

/** The request, or a reason to deny without asking Cedar. */
export function buildRequest(
  schema: SchemaInfo,
  actor: Actor,
  action: ActionInfo,
  resource?: ResourceRef,
): CedarRequest | string {
  const pType = PRINCIPAL_TYPE[actor.kind];
  if (!pType) return actor.kind === 'anonymous' ? 'not authenticated' : `no policies apply to ${actor.kind} actors`;
  if (!action.principalTypes.includes(pType)) return `${action.name} is not available to ${actor.kind} actors`;
  if (typeof actor.id !== 'string' || actor.id.length === 0) return 'actor has no id';

  const principal: EntityUidJson = { type: pType, id: actor.id };
  const pEntity: EntityJson = { uid: principal, attrs: {}, parents: [] };
  if (pType !== 'Operator') {
    const workspaceId = actor.workspace;
    const a = actor.attributes ?? {};
    pEntity.attrs = {
      roles: workspaceId ? [...new Set(actor.roles)].filter((r) => typeof r === 'string') : [],
      department: str(a.department),
      region: str(a.region),
      clearance: clearance(a.clearance),
    };
    if (workspaceId) {
      pEntity.attrs.workspace = { __entity: wsUid(workspaceId) };
      pEntity.parents = [wsUid(workspaceId)];
    }
  }
  const authMethod = typeof actor.authMethod === 'string' ? actor.authMethod : '';
  const context = { mfa: actor.attributes?.mfa === true || SECOND_FACTOR.test(authMethod), authMethod };

  if (!resource) {
    if (action.groups.includes(`${GROUP_PREFIX}self`))
      return { principal, resource: principal, context, entities: [pEntity] };
    if (actor.workspace && action.resourceTypes.includes('Workspace'))
      return { principal, resource: wsUid(actor.workspace), context, entities: [pEntity] };
    if (action.resourceTypes.includes('System'))
      return { principal, resource: { type: 'System', id: SYSTEM_ID }, context, entities: [pEntity] };
    return `${action.name} needs a resource`;
  }

  const rType = cedarTypeName(resource.type);
  const shape = schema.entities.get(rType);
  if (!shape || rType === 'Operator') return `unknown resource type ${JSON.stringify(resource.type)}`;
  if (!action.resourceTypes.includes(rType)) return `${action.name} does not apply to ${rType} resources`;
  if (rType === 'System')
    return { principal, resource: { type: 'System', id: SYSTEM_ID }, context, entities: [pEntity] };
  if (rType === 'Workspace') {
    const id = resource.id ?? resource.workspace;
    if (!id || (resource.workspace && resource.id && resource.workspace !== resource.id))
      return 'workspace resource without a single id';
    return { principal, resource: wsUid(id), context, entities: [pEntity] };
  }
  const uid: EntityUidJson = { type: rType, id: resource.id ?? '*' };
  if (rType === principal.type && uid.id === principal.id)
    return { principal, resource: principal, context, entities: [pEntity] };
  const attrs: Record<string, unknown> = {};
  const ws = resource.workspace;
  if (shape.attrs.has('workspace')) {
    if (ws) attrs.workspace = { __entity: wsUid(ws) };
    else if (shape.attrs.get('workspace')!.required) return `a ${rType} resource must name its workspace`;
  }
  if (shape.attrs.has('tags')) attrs.tags = [...new Set(resource.tags ?? [])].filter((t) => typeof t === 'string');
  fillRequired(shape, attrs);
  const rEntity = { uid, attrs, parents: ws && shape.inWorkspace ? [wsUid(ws)] : [] } as EntityJson;
  return { principal, resource: uid, context, entities: [pEntity, rEntity] };
}
