/**
 * CPU time read from /proc for the bench aids (Linux only): the PostgreSQL backends serving one
 * database, which name it in their process title.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU ms (user + system, USER_HZ = 100) of the PostgreSQL backends serving database `name`. */
export function backendCpuMs(name: string): number {
  let ms = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${name} `)) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return ms;
}

/** CPU ms (user + system) of this process, from /proc/self/stat. */
export function selfCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
