/**
 * Task runs and their logs over HTTPS — declarations only. Installation-wide: the operator's.
 * Reading a log is a `read` route: its event is committed before any line is answered.
 */
import { z } from 'zod';
import { route, type RouteDef } from '../../http/route.ts';
import type { TaskLogs } from './tasks.service.ts';
import { listQuery, taskParams } from '../../contracts/tasks.ts';

export interface TasksRoutesDeps {
  tasks: Pick<TaskLogs, 'list' | 'get' | 'read'>;
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
      schema: { querystring: listQuery },
      handler: async ({ input, event }) => {
        event.resource({ type: 'task' });
        return { tasks: await tasks.list(input.query.kind, input.query.limit) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/tasks/:id',
      action: 'task.run.read',
      resource: loadTask,
      mustExist: 'No such task.',
      run: 'read',
      schema: { params: taskParams },
      handler: ({ row }) => row,
    }),
    route({
      method: 'GET',
      url: '/api/v1/tasks/:id/log',
      action: 'task.log.read',
      resource: loadTask,
      mustExist: 'No such task.',
      run: 'read',
      schema: { params: taskParams },
      handler: async ({ input, reply }) => {
        void reply.header('cache-control', 'no-store');
        return { id: input.params.id, entries: await tasks.read(input.params.id) };
      },
    }),
  ];
}
