#!/usr/bin/env node
// Judge a testssl JSON report: only TLS 1.2/1.3 offered, every offered suite an AEAD.
import { readFileSync } from 'node:fs';

const findings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const problems = [];
const byId = new Map(findings.map((f) => [f.id, f]));
for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) {
  const f = byId.get(id);
  if (!f) problems.push(`${id}: not reported by the scan`);
  else if (!/not offered/i.test(f.finding)) problems.push(`${id} is offered: ${f.finding}`);
}
for (const id of ['TLS1_2', 'TLS1_3']) {
  const f = byId.get(id);
  if (!f || !/^offered/i.test(f.finding)) problems.push(`${id} should be offered: ${f?.finding ?? 'missing'}`);
}
const suites = findings.filter((f) => /^cipher-/.test(f.id) || /^cipher_x/.test(f.id));
for (const s of suites) {
  if (!/GCM|CHACHA20|POLY1305/i.test(s.finding)) problems.push(`non-AEAD suite offered: ${s.finding}`);
}
if (suites.length === 0) problems.push('no offered cipher suites found in the report');
console.log(`testssl: ${suites.length} offered suites checked`);
for (const s of suites) console.log(`  ${s.finding.replace(/\s+/g, ' ')}`);
if (problems.length > 0) {
  console.error(`TLS scan FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('TLS scan passed: TLS 1.2/1.3 only, AEAD suites only');
