/** The readable doctor report, coloured for a terminal. */
import type { CheckResult, DoctorReport } from './index.js';

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m' };

const LABEL: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };
const COLOUR: Record<CheckResult['status'], string> = { pass: ANSI.green, warn: ANSI.yellow, fail: ANSI.red, skip: ANSI.dim };

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

export function formatReport(report: DoctorReport, opts: { color: boolean }): string {
  const c = (code: string, s: string) => (opts.color ? `${code}${s}${ANSI.reset}` : s);
  const out: string[] = [c(ANSI.bold, `plumm-scim doctor: ${report.baseUrl}`), ''];
  const seen = new Map<string, string>();
  const nameWidth = Math.max(...report.checks.map((k) => k.name.length), 10);
  for (const check of report.checks) {
    const request = typeof check.details?.request === 'string' ? `  ${check.details.request}` : '';
    const latency = check.latencyMs !== undefined ? `  ${check.latencyMs} ms` : '';
    out.push(`  ${c(COLOUR[check.status], LABEL[check.status])}  ${check.name.padEnd(nameWidth)} ${c(ANSI.dim, `${latency}${request}`)}`);
    if (!check.diagnosis || check.status === 'pass' && !check.fix) {
      if (check.diagnosis && check.status === 'pass') out.push(c(ANSI.dim, wrap(check.diagnosis, 92, '        ')));
      continue;
    }
    const key = `${check.diagnosis}\n${check.fix ?? ''}`.replace(/HTTP \d+ |\d+(\.\d+)? s\b/g, '');
    const first = seen.get(key);
    if (first) {
      if (check.status !== 'skip') out.push(c(ANSI.dim, `        Same problem as "${first}".`));
      continue;
    }
    seen.set(key, check.name);
    out.push(wrap(check.diagnosis, 92, '        '));
    if (check.fix) out.push(wrap(`Fix: ${check.fix}`, 92, '        '));
  }
  const count = (s: CheckResult['status']) => report.checks.filter((k) => k.status === s).length;
  const summary = `${count('pass')} passed, ${count('warn')} warning(s), ${count('fail')} failed, ${count('skip')} skipped`;
  out.push('');
  out.push(report.ok ? c(ANSI.green, `OK: ${summary}.`) : c(ANSI.red, `PROBLEMS FOUND: ${summary}.`));
  return `${out.join('\n')}\n`;
}
