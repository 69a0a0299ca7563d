/**
 * The composition root of the `strongroom` command: the only file that joins the command line and
 * the server (siblings that never import each other). `bin/strongroom.js` runs it.
 */
import { runCli } from './cli/main.ts';
import { startServer } from './server/main.ts';

await runCli(process.argv, { startServer });
