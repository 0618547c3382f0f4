/**
 * The plumm-scim command: run the service and do what Plumm support needs
 * (organizations, tokens, purges). Every command takes --json and then prints
 * exactly one JSON value on stdout.
 */
import { Command, CommanderError } from 'commander';
import { issueToken, listTokens, revokeToken } from '../auth/tokens.js';
import { loadConfig } from '../config.js';
import {
  NotFoundError,
  type Organization,
  UsageError,
  createOrganization,
  listOrganizations,
  parseUsernameFormat,
  resolveOrganization,
  setProvisioning,
  setUsernameFormat,
} from '../directory/organizations.js';
import { purgeUser } from '../directory/purge.js';
import { type Store, openStore } from '../store/db.js';
import { userInfo } from 'node:os';
import { issueOperatorToken, listOperatorTokens, revokeOperatorToken } from '../auth/operators.js';
import { type ProvisioningEvent, csvChunks, csvHeader, csvLine, recordNow, searchEvents } from '../events/log.js';
import { eventQuery } from '../http/admin.js';
import { addDoctorCommand } from '../doctor/cli.js';

/** Who ran the command, for the provisioning log. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Records an operator action in the organization's provisioning log. */
async function recordAction(store: Store, event: Omit<ProvisioningEvent, 'occurredAt' | 'actor' | 'outcome'>): Promise<void> {
  await recordNow(store.db, { ...event, occurredAt: new Date().toISOString(), actor: cliActor(), outcome: 'SUCCESS' });
}

interface Output {
  json?: boolean;
}

function print(opts: Output, value: unknown, human: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function orgSummary(org: Organization) {
  return {
    id: org.id,
    name: org.name,
    provisioningEnabled: org.provisioningEnabled,
    usernameFormat: org.usernameFormat,
    createdAt: org.createdAt,
  };
}

export function buildCli(): Command {
  const program = new Command('plumm-scim')
    .description('Plumm SCIM 2.0 provisioning service')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve')
    .description('run the service (PORT, HOST, DATABASE_URL and LOG_LEVEL configure it)')
    .action(async () => {
      await import('../main.js');
    });

  const org = program.command('org').description('manage organizations');
  org
    .command('create')
    .argument('<name>', 'organization name')
    .option('--enable-provisioning', 'switch provisioning on at once')
    .option('--username-format <format>', 'email (default) or any', 'email')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: Output & { enableProvisioning?: boolean; usernameFormat: string }) => {
      const created = await withStore((s) =>
        createOrganization(s.db, { name, provisioningEnabled: !!opts.enableProvisioning, usernameFormat: parseUsernameFormat(opts.usernameFormat) }),
      );
      print(opts, orgSummary(created), `Created organization ${created.name} (${created.id}); provisioning ${created.provisioningEnabled ? 'enabled' : 'disabled'}.`);
    });

  for (const [command, enabled] of [['enable-provisioning', true], ['disable-provisioning', false]] as const) {
    org
      .command(command)
      .argument('<org>', 'organization id or name')
      .option('--json', 'print JSON')
      .action(async (ref: string, opts: Output) => {
        const updated = await withStore(async (s) => {
          const o = await resolveOrganization(s.db, ref);
          await setProvisioning(s.db, o.id, enabled);
          await recordAction(s, {
            orgId: o.id,
            action: enabled ? 'Enable provisioning' : 'Disable provisioning',
            targetType: 'Organization',
            targetId: o.id,
            targetName: o.name,
          });
          return { ...o, provisioningEnabled: enabled };
        });
        print(opts, orgSummary(updated), `Provisioning ${enabled ? 'enabled' : 'disabled'} for ${updated.name} (${updated.id}).`);
      });
  }

  org
    .command('set-username-format')
    .argument('<org>', 'organization id or name')
    .argument('<format>', 'email or any')
    .option('--json', 'print JSON')
    .action(async (ref: string, format: string, opts: Output) => {
      const value = parseUsernameFormat(format);
      const updated = await withStore(async (s) => {
        const o = await resolveOrganization(s.db, ref);
        await setUsernameFormat(s.db, o.id, value);
        return { ...o, usernameFormat: value };
      });
      print(opts, orgSummary(updated), `Username format of ${updated.name} is now ${value}.`);
    });

  org
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: Output) => {
      const orgs = await withStore((s) => listOrganizations(s.db));
      const lines = orgs.map((o) => `${o.id}  ${o.name}  provisioning=${o.provisioningEnabled ? 'on' : 'off'}  usernames=${o.usernameFormat}`);
      print(opts, { organizations: orgs.map(orgSummary) }, lines.length ? lines.join('\n') : 'No organizations.');
    });

  const token = program.command('token').description('manage SCIM API tokens');
  token
    .command('issue')
    .argument('<org>', 'organization id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: Output) => {
      const issued = await withStore(async (s) => {
        const o = await resolveOrganization(s.db, ref);
        const t = await issueToken(s.db, o.id);
        await recordAction(s, { orgId: o.id, action: 'Issue API token', targetType: 'Token', targetId: t.id, targetName: t.hint });
        return t;
      });
      print(
        opts,
        { id: issued.id, orgId: issued.orgId, token: issued.token, createdAt: issued.createdAt },
        `Token ${issued.id} issued. Give this token to the customer's IdP; it is shown only once:\n${issued.token}`,
      );
    });

  token
    .command('list')
    .argument('<org>', 'organization id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: Output) => {
      const tokens = await withStore(async (s) => listTokens(s.db, (await resolveOrganization(s.db, ref)).id));
      const lines = tokens.map((t) => `${t.id}  ${t.hint}  created ${t.createdAt}  ${t.revokedAt ? `revoked ${t.revokedAt}` : 'live'}`);
      print(opts, { tokens }, lines.length ? lines.join('\n') : 'No tokens.');
    });

  token
    .command('revoke')
    .argument('<token-id>', 'token id (from token list)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: Output) => {
      const revoked = await withStore(async (s) => {
        const owner = await s.db.selectFrom('api_tokens').select(['org_id', 'hint']).where('id', '=', id).executeTakeFirst();
        const done = await revokeToken(s.db, id);
        if (done && owner) await recordAction(s, { orgId: owner.org_id, action: 'Revoke API token', targetType: 'Token', targetId: id, targetName: owner.hint });
        return done;
      });
      if (!revoked) throw new NotFoundError(`no live token with id "${id}"`);
      print(opts, { id, revoked: true }, `Token ${id} revoked.`);
    });

  const user = program.command('user').description('customer-success actions on users');
  user
    .command('purge')
    .description("permanently delete a user's data")
    .argument('<org>', 'organization id or name')
    .argument('<user-id>', 'SCIM id of the user')
    .option('--force', 'purge even when the user is active')
    .option('--json', 'print JSON')
    .action(async (ref: string, userId: string, opts: Output & { force?: boolean }) => {
      const result = await withStore(async (s) => {
        const o = await resolveOrganization(s.db, ref);
        const r = await purgeUser(s.db, o.id, userId, { force: !!opts.force });
        await recordAction(s, { orgId: o.id, action: 'Purge user', targetType: 'User', targetId: r.userId, targetName: r.userName, reason: `removed ${r.removed.join(', ')}` });
        return r;
      });
      print(opts, result, `Purged user ${result.userId} (${result.userName}): removed ${result.removed.join(', ')}.`);
    });

  const log = program.command('log').description('the provisioning log');
  log
    .command('search')
    .description('events of an organization, newest first')
    .argument('<org>', 'organization id or name')
    .option('--query <text>', 'free text over action, outcome, reason and target')
    .option('--from <iso>', 'events at or after this time')
    .option('--to <iso>', 'events before this time')
    .option('--outcome <outcome>', 'success or failure')
    .option('--action <action>', 'one action, e.g. "Push new user"')
    .option('--limit <n>', 'at most this many events (CSV: all when absent)')
    .option('--json', 'print a JSON array of events')
    .option('--csv', 'print CSV with a header row')
    .action(async (ref: string, opts: Output & { query?: string; from?: string; to?: string; outcome?: string; action?: string; limit?: string; csv?: boolean }) => {
      await withStore(async (s) => {
        const o = await resolveOrganization(s.db, ref);
        let q;
        try {
          q = eventQuery(o.id, { ...opts, limit: opts.limit ?? (opts.csv ? undefined : '100') });
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        if (opts.csv && opts.limit === undefined) {
          for await (const chunk of csvChunks(s.db, q)) process.stdout.write(chunk);
          return;
        }
        const { total, events } = await searchEvents(s.db, q);
        if (opts.csv) {
          process.stdout.write(csvHeader() + events.map(csvLine).join(''));
          return;
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
          return;
        }
        for (const e of events) {
          const target = e.targetName ?? e.targetId ?? '';
          process.stdout.write(`${e.occurredAt}  ${e.outcome.padEnd(7)}  ${e.action}  ${target}${e.reason && e.outcome === 'FAILURE' ? `  — ${e.reason}` : ''}\n`);
        }
        process.stdout.write(`${events.length} of ${total} events\n`);
      });
    });

  const operator = program.command('operator').description('operator credentials for the admin API');
  const opToken = operator.command('token').description('operator tokens');
  opToken
    .command('issue')
    .argument('<name>', 'who the token is for')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: Output) => {
      const issued = await withStore((s) => issueOperatorToken(s.db, name));
      print(opts, issued, `Operator token ${issued.id} for ${issued.name}; shown only once:\n${issued.token}`);
    });
  opToken
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: Output) => {
      const tokens = await withStore((s) => listOperatorTokens(s.db));
      print(opts, { tokens }, tokens.map((t) => `${t.id}  ${t.name}  ${t.hint}  ${t.revoked_at ? 'revoked' : 'live'}`).join('\n') || 'No operator tokens.');
    });
  opToken
    .command('revoke')
    .argument('<token-id>', 'operator token id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: Output) => {
      if (!(await withStore((s) => revokeOperatorToken(s.db, id)))) throw new NotFoundError(`no live operator token "${id}"`);
      print(opts, { id, revoked: true }, `Operator token ${id} revoked.`);
    });

  addDoctorCommand(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
    }
    const json = argv.includes('--json');
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof UsageError ? 2 : 1;
    if (json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    process.stderr.write(`plumm-scim: ${message}\n`);
    return code;
  }
}

const invokedDirectly = process.argv[1] && /cli[\\/]index\.ts$/.test(process.argv[1]);
if (invokedDirectly || process.env.PLUMM_SCIM_BIN === '1') {
  const argv = process.argv.slice(2);
  const code = await runCli(argv);
  // serve keeps running; every other command ends here.
  if (argv[0] !== 'serve') process.exit(code);
}
