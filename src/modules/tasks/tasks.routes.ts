/**
 * Task runs and their logs over HTTPS — declarations only. Every run: the operator's
 * (`/api/v1/tasks…`). The runs of one workspace (`/api/v1/workspaces/:ws/tasks…`): its owners,
 * admins and auditors; a run of another workspace or of the installation is "not found" there.
 * Reading a log is a `read` route: its event is committed before any line is answered.
 */
import { z } from 'zod';
import { workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { TaskLogs } from './tasks.service.ts';
import {
  listQuery,
  taskListOut,
  taskLogOut,
  taskParams,
  taskRunOut,
  workspaceTaskParams as wsTaskParams,
} from '../../contracts/tasks.ts';

export interface TasksRoutesDeps {
  tasks: Pick<TaskLogs, 'list' | 'get' | 'read' | 'kinds'>;
}

export function tasksRoutes({ tasks }: TasksRoutesDeps): RouteDef[] {
  const loadTask = async (input: { params: z.output<typeof taskParams> }) => ({
    ref: { type: 'task', id: input.params.id },
    row: await tasks.get(input.params.id),
  });
  return [
    route({
      method: 'GET',
      url: '/api/v1/tasks',
      action: 'task.run.list',
      resource: 'system',
      run: 'read',
      schema: { querystring: listQuery, response: { 200: taskListOut } },
      handler: async ({ input, event }) => {
        event.resource({ type: 'task' });
        return { tasks: await tasks.list(input.query.kind, input.query.limit), kinds: await tasks.kinds() };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/tasks/:id',
      action: 'task.run.read',
      resource: loadTask,
      mustExist: 'No such task.',
      run: 'read',
      schema: { params: taskParams, response: { 200: taskRunOut } },
      handler: ({ row }) => row,
    }),
    route({
      method: 'GET',
      url: '/api/v1/tasks/:id/log',
      action: 'task.log.read',
      resource: loadTask,
      mustExist: 'No such task.',
      run: 'read',
      schema: { params: taskParams, response: { 200: taskLogOut } },
      handler: async ({ input, reply }) => {
        void reply.header('cache-control', 'no-store');
        return { id: input.params.id, entries: await tasks.read(input.params.id) };
      },
    }),
    ...workspaceTaskRoutes({ tasks }),
  ];
}

function workspaceTaskRoutes({ tasks }: TasksRoutesDeps): RouteDef[] {
  // A run of this workspace only: another workspace's, or the installation's, is not found here.
  const loadTask = async (input: { params: z.output<typeof wsTaskParams> }) => {
    const row = await tasks.get(input.params.id);
    return {
      ref: { type: 'task', id: input.params.id, workspace: input.params.ws },
      row: row && row.workspace === input.params.ws ? row : undefined,
    };
  };
  return [
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/tasks',
      action: 'task.run.list',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams, querystring: listQuery, response: { 200: taskListOut } },
      handler: async ({ input }) => ({
        tasks: await tasks.list(input.query.kind, input.query.limit, input.params.ws),
        kinds: await tasks.kinds(input.params.ws),
      }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/tasks/:id',
      action: 'task.run.read',
      resource: loadTask,
      mustExist: 'No such task in this workspace.',
      run: 'read',
      schema: { params: wsTaskParams, response: { 200: taskRunOut } },
      handler: ({ row }) => row,
    }),
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/tasks/:id/log',
      action: 'task.log.read',
      resource: loadTask,
      mustExist: 'No such task in this workspace.',
      run: 'read',
      schema: { params: wsTaskParams, response: { 200: taskLogOut } },
      handler: async ({ input, reply }) => {
        void reply.header('cache-control', 'no-store');
        return { id: input.params.id, entries: await tasks.read(input.params.id) };
      },
    }),
  ];
}
