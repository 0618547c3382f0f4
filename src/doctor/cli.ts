/** The `plumm-scim doctor` command, for src/cli/index.ts to register. */
import type { Command } from 'commander';
import { formatReport, runDoctor } from './index.js';

export interface DoctorCliOptions {
  token?: string;
  write?: boolean;
  json?: boolean;
  timeout?: string;
  slow?: string;
}

export interface DoctorIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number of milliseconds`);
  return n;
}

/**
 * Runs doctor and prints the report (one JSON object with --json); returns
 * the exit code: 0 when nothing failed, 1 otherwise. The token comes from
 * --token or, to keep it out of the shell history, PLUMM_SCIM_TOKEN.
 */
export async function doctorCommand(baseUrl: string, opts: DoctorCliOptions, io: DoctorIo = { stdout: process.stdout, env: process.env }): Promise<number> {
  const token = opts.token ?? io.env.PLUMM_SCIM_TOKEN;
  if (!token) throw new Error('give the API token with --token TOKEN or the PLUMM_SCIM_TOKEN environment variable');
  const report = await runDoctor({
    baseUrl,
    token,
    write: opts.write === true,
    timeoutMs: positiveInt(opts.timeout, '--timeout'),
    slowMs: positiveInt(opts.slow, '--slow'),
  });
  if (opts.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(formatReport(report, { color: Boolean(io.stdout.isTTY) && !('NO_COLOR' in io.env && io.env.NO_COLOR !== '') }));
  return report.ok ? 0 : 1;
}

/** Adds `doctor BASE_URL --token TOKEN [--write] [--json]` to a commander program. */
export function addDoctorCommand(program: Command, exit: (code: number) => void = (code) => process.exit(code)): Command {
  return program
    .command('doctor')
    .description('check a SCIM endpoint from the outside, as Okta and Entra ID would, and explain what is wrong')
    .argument('<base-url>', 'SCIM base URL, e.g. https://scim.example.com/scim/v2 (without /scim/v2 it is tried as given, then with /scim/v2)')
    .option('--token <token>', 'the SCIM API token (or set PLUMM_SCIM_TOKEN)')
    .option('--write', 'also create, update, deactivate, reactivate and delete a test user and group')
    .option('--json', 'print one JSON object')
    .option('--timeout <ms>', 'give up on an answer after this long (default 60000, as Okta)')
    .option('--slow <ms>', 'warn about answers slower than this (default 5000)')
    .action(async (baseUrl: string, opts: DoctorCliOptions) => {
      const code = await doctorCommand(baseUrl, opts);
      if (code !== 0) exit(code);
    });
}
