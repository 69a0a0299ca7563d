/**
 * Drives over HTTPS (C7): `/api/v1/workspaces/:ws/drives…` — list, show, test a definition, add,
 * re-test, remove.
 *
 * Declarations only: each route names the drive it concerns (from the path, or the definition's
 * name) and the pipeline decides once on it, runs the work with its event and records denials and
 * failures. Naming an existing vault secret as a drive's credentials also needs update rights on
 * that secret (using a credential is a write-level use of it). Answers never carry a credential:
 * the response schemas have no field for one. A failed test on add is answered with its diagnosis
 * code (DRIVE_AUTH_FAILED …) and the report under `diagnosis`.
 */
import { z } from 'zod';
import { workspaceParams } from '../../contracts/common.ts';
import type { ResourceRef } from '../../core/resource.ts';
import { route, type Input, type Loaded, type ReadCtx, type RouteDef } from '../../http/route.ts';
import {
  diagnosisOut,
  driveAddAnswer,
  driveRemoveAnswer,
  driveInputSchema,
  driveOut,
  driveParams,
  driveUsageAnswer,
  driveHealthAnswer,
  driveCredentialsAnswer,
  driveCredentialsBody,
  type DriveInput,
  defaultDriveAnswer,
  defaultDriveBody,
} from '../../contracts/drives.ts';
import type { DrivesService, DriveView } from './drives.service.ts';

export interface DrivesRoutesDeps {
  drives: DrivesService;
  /** What a drive holds (the datasets module counts it). */
  usageOf?: (workspaceId: string, name: string) => Promise<{ versions: number; bytes: number; datasets: string[] }>;
}

const NO_SUCH_DRIVE = 'No such drive in this workspace.';
const base = '/api/v1/workspaces/:ws/drives';
const driveRef = (workspaceId: string, name: string): ResourceRef => ({
  type: 'drive',
  id: name,
  workspace: workspaceId,
  tags: [],
});

/** The drive named by a definition in the body (test, add): decided on before anything is dialled. */
const definedDrive = ({
  params,
  body,
}: Input<{ params: typeof workspaceParams; body: typeof driveInputSchema }>): Loaded<undefined> => ({
  ref: driveRef(params.ws, body.name),
});

export function drivesRoutes({ drives, usageOf }: DrivesRoutesDeps): RouteDef[] {
  const savedDrive = async ({ params }: Input<{ params: typeof driveParams }>): Promise<Loaded<DriveView>> => ({
    ref: driveRef(params.ws, params.name),
    row: await drives.find(params.ws, params.name),
  });

  /** Using an existing secret as a drive's credentials needs update rights on that secret. */
  const mayUseSecret = ({
    input,
    allowed,
    event,
    deny,
  }: Pick<
    ReadCtx<{ params: typeof workspaceParams; body: typeof driveInputSchema }, undefined>,
    'input' | 'allowed' | 'event' | 'deny'
  >): void => {
    const body: DriveInput = input.body;
    const path = 'credentialSecret' in body ? body.credentialSecret : undefined;
    if (!path || allowed('vault.secret.update', { type: 'secret', id: path, workspace: input.params.ws, tags: [] }))
      return;
    event.details({ credentialSecret: path });
    deny('may not use the credential secret', 'You are not allowed to use that credential secret.');
  };

  return [
    route({
      method: 'GET',
      url: base,
      action: 'drive.drive.list',
      run: 'read',
      resource: 'workspace',
      schema: { params: workspaceParams, response: { 200: z.object({ drives: z.array(driveOut) }) } },
      handler: async ({ input, allowed, event }) => {
        const workspaceId = input.params.ws;
        const visible = (await drives.list(workspaceId)).filter((d) =>
          allowed('drive.drive.list', driveRef(workspaceId, d.name)),
        );
        event.details({ count: visible.length });
        return { drives: visible };
      },
    }),

    route({
      method: 'GET',
      url: `${base}/:name`,
      action: 'drive.drive.read',
      run: 'read',
      resource: savedDrive,
      mustExist: NO_SUCH_DRIVE,
      schema: { params: driveParams, response: { 200: driveOut } },
      handler: ({ row }) => row,
    }),

    route({
      method: 'POST',
      url: `${base}/test`,
      action: 'drive.drive.test',
      run: 'read',
      resource: definedDrive,
      schema: { params: workspaceParams, body: driveInputSchema, response: { 200: diagnosisOut } },
      handler: async (ctx) => {
        const { input, event } = ctx;
        mayUseSecret(ctx);
        const report = await drives.test(input.params.ws, input.body);
        event.details({
          kind: input.body.kind,
          saved: false,
          ok: report.ok,
          ...(report.code ? { code: report.code } : {}),
        });
        return report;
      },
    }),

    route({
      method: 'POST',
      url: `${base}/:name/test`,
      action: 'drive.drive.test',
      run: 'read',
      resource: savedDrive,
      mustExist: NO_SUCH_DRIVE,
      schema: { params: driveParams, response: { 200: diagnosisOut } },
      handler: async ({ input, event }) => {
        const report = await drives.retest(input.params.ws, input.params.name);
        event.details({ saved: true, ok: report.ok, ...(report.code ? { code: report.code } : {}) });
        return report;
      },
    }),

    // Adding dials the store first (no transaction held open meanwhile), then writes the
    // credentials and the drive with the event in one transaction.
    route({
      method: 'POST',
      url: base,
      action: 'drive.drive.create',
      run: 'explicit',
      resource: definedDrive,
      status: 201,
      schema: {
        params: workspaceParams,
        body: driveInputSchema,
        response: { 201: driveAddAnswer },
      },
      handler: async (ctx) => {
        const { input, actor, event, commit } = ctx;
        const workspaceId = input.params.ws;
        mayUseSecret(ctx);
        const prepared = await drives.prepareAdd(workspaceId, input.body);
        event.details({
          kind: input.body.kind,
          credentials: prepared.inline ? 'inline' : prepared.named ? 'secret' : 'none',
        });
        return commit((trx) => drives.commitAdd(trx, actor, workspaceId, prepared));
      },
    }),

    route({
      method: 'GET',
      url: `${base}/:name/usage`,
      action: 'drive.drive.read',
      run: 'read',
      resource: savedDrive,
      mustExist: NO_SUCH_DRIVE,
      schema: {
        params: driveParams,
        response: { 200: driveUsageAnswer },
      },
      handler: async ({ input }) =>
        (await usageOf?.(input.params.ws, input.params.name)) ?? { versions: 0, bytes: 0, datasets: [] },
    }),

    route({
      method: 'GET',
      url: `${base}/:name/health`,
      action: 'drive.drive.read',
      run: 'read',
      resource: savedDrive,
      mustExist: NO_SUCH_DRIVE,
      schema: {
        params: driveParams,
        response: {
          200: driveHealthAnswer,
        },
      },
      handler: async ({ input }) => ({ checks: await drives.history(input.params.ws, input.params.name) }),
    }),

    // Rotation tests the new credentials first (no transaction held meanwhile), then stores them
    // as a new version of the drive's own secret with the event in one transaction.
    route({
      method: 'PUT',
      url: `${base}/:name/credentials`,
      action: 'drive.drive.update',
      run: 'explicit',
      resource: savedDrive,
      mustExist: NO_SUCH_DRIVE,
      reauth: true,
      schema: {
        params: driveParams,
        body: driveCredentialsBody,
        response: { 200: driveCredentialsAnswer },
      },
      handler: async ({ input, actor, event, commit }) => {
        const { ws: workspaceId, name } = input.params;
        event.details({ credentials: 'rotated' });
        const prepared = await drives.prepareRotation(workspaceId, name, input.body.credentials);
        const out = await commit((trx) => drives.commitRotation(trx, actor, workspaceId, prepared));
        return { drive: out.drive, diagnosis: out.diagnosis };
      },
    }),

    // The default drive is a workspace setting: owners and admins choose it.
    route({
      method: 'PUT',
      url: '/api/v1/workspaces/:ws/default-drive',
      action: 'workspace.workspace.update',
      audit: 'workspace.default-drive.set',
      run: 'write',
      resource: 'workspace',
      schema: {
        params: workspaceParams,
        body: defaultDriveBody,
        response: { 200: defaultDriveAnswer },
      },
      handler: async ({ trx, input, event }) => {
        const { previous } = await drives.setDefault(trx, input.params.ws, input.body.drive);
        event.details({ drive: input.body.drive, previous });
        return { defaultDrive: input.body.drive, previous };
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/:name`,
      action: 'drive.drive.delete',
      run: 'write',
      resource: savedDrive,
      mustExist: NO_SUCH_DRIVE,
      schema: {
        params: driveParams,
        response: { 200: driveRemoveAnswer },
      },
      handler: async ({ trx, input }) => {
        const out = await drives.remove(trx, input.params.ws, input.params.name);
        return { name: input.params.name, removed: true as const, ...out };
      },
    }),
  ];
}
