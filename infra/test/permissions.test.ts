/**
 * Least privilege, checked twice:
 *
 * 1. The matrix follows the code's calls. test/aws-calls.json holds what each function's code
 *    calls in AWS, recorded on the emulators by tests/it/aws_permissions.rs; every grant of
 *    lib/permissions.ts that is not for the platform must be needed by a call, and every call
 *    allowed by a grant (a `dynamodb:LeadingKeys` condition included). A difference fails and
 *    names the grant to add or remove.
 * 2. The roles hold exactly the matrix. Every IAM statement that reaches each function's role
 *    (inline, attached or managed, whoever added it: the matrix, CDK for event sources or
 *    destinations, anything else) is flattened to "action resource [condition]" lines and
 *    compared with the matrix's lines. A function that gains or loses any line fails.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { bedrockResources } from '../lib/config';
import { type Grant, PERMISSIONS, type Target, callResourceOf, leadingKeyPrefix } from '../lib/permissions';
import type { FunctionName } from '../lib/specs';
import { ACCOUNT, FUNCTIONS, REGION, type Resources, functionId, resourcesOfType, synth } from './helpers';

/** The settings of `synth()` (test/helpers.ts): the example's, on shop.example. */
const FROM_EMAIL = 'hello@shop.example';
const MODEL_ID = 'global.anthropic.claude-haiku-4-5-20251001-v1:0';

// ---------------------------------------------------------------------------------------------
// 1. The matrix against the recorded calls.
// ---------------------------------------------------------------------------------------------

/** One recorded call: `action resource [keys <class>*]`. */
interface Call {
  readonly action: string;
  readonly resource: string;
  /** The partition key class (`active#`, or `` for plain ids) of a DynamoDB item call. */
  readonly keyClass?: string;
}

function parseCall(line: string): Call {
  const m = /^(\S+) (\S+)(?: keys (\S*)\*)?$/.exec(line);
  if (!m) throw new Error(`test/aws-calls.json: unreadable line "${line}"`);
  return { action: m[1], resource: m[2], keyClass: m[3] };
}

/** test/aws-calls.json, per function. */
export function recordedCalls(): Record<string, Call[]> {
  const file = JSON.parse(fs.readFileSync(path.join(__dirname, 'aws-calls.json'), 'utf8')) as {
    functions: Record<string, string[]>;
  };
  return Object.fromEntries(Object.entries(file.functions).map(([fn, lines]) => [fn, lines.map(parseCall)]));
}

const describeGrant = (action: string, resource: string) => `${action} on ${resource}`;

/**
 * What is wrong between a function's grants and its recorded calls, each as an instruction:
 * a call no grant allows, a condition a call breaks, a grant no call needs.
 */
export function mismatches(fn: string, grants: readonly Grant[], calls: readonly Call[]): string[] {
  const problems: string[] = [];
  const ours = grants.filter((g) => !g.platform);
  const allows = (g: Grant, c: Call) => g.actions.includes(c.action) && callResourceOf(g.on) === c.resource;
  for (const c of calls) {
    if (c.action.startsWith('unknown:')) {
      problems.push(`${fn}: the recorder does not know ${c.action.slice(8)}: teach crates/rft-aws/src/calls.rs`);
      continue;
    }
    const matching = ours.filter((g) => allows(g, c));
    if (matching.length === 0) {
      problems.push(`${fn}: add a grant of ${describeGrant(c.action, c.resource)}: the code calls it`);
      continue;
    }
    const confined = matching.map(leadingKeyPrefix);
    if (c.keyClass !== undefined && !confined.some((p) => p === undefined || c.keyClass!.startsWith(p))) {
      problems.push(
        `${fn}: its grant of ${describeGrant(c.action, c.resource)} is confined to keys ${confined.join(', ')}* ` +
          `but the code touches ${c.keyClass || 'plain'}* keys: widen the condition, or change the code`,
      );
    }
  }
  for (const g of ours) {
    for (const action of g.actions) {
      const resource = callResourceOf(g.on) ?? JSON.stringify(g.on);
      if (!calls.some((c) => c.action === action && c.resource === resource)) {
        problems.push(`${fn}: remove ${describeGrant(action, resource)} from its grants: no call needs it`);
      }
    }
  }
  return problems;
}

describe('the permissions matrix follows the code\'s calls (test/aws-calls.json)', () => {
  const calls = recordedCalls();

  it('the recording covers exactly the six functions', () => {
    assert.deepEqual(Object.keys(calls).sort(), [...FUNCTIONS].sort());
  });

  for (const fn of FUNCTIONS) {
    it(`${fn}: every call is granted, and every grant is called`, () => {
      const problems = mismatches(fn, PERMISSIONS[fn as FunctionName], calls[fn] ?? []);
      assert.deepEqual(problems, [], `\n${problems.join('\n')}\n(infra/lib/permissions.ts; the calls are test/aws-calls.json)`);
    });
  }

  it('every grant for the platform says why', () => {
    for (const fn of FUNCTIONS) {
      for (const g of PERMISSIONS[fn as FunctionName]) {
        if (g.platform !== undefined) assert.ok(g.platform.length > 10, `${fn}: ${JSON.stringify(g)}`);
      }
    }
  });

  it('the comparison names a grant to add, one to remove, and a condition a call breaks (the test can fail)', () => {
    const grants: Grant[] = [
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], on: { table: 'rft-codes' } },
      {
        actions: ['dynamodb:DeleteItem'],
        on: { table: 'rft-codes' },
        condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['active#*'] } },
      },
    ];
    const problems = mismatches('f', grants, [
      { action: 'dynamodb:GetItem', resource: 'table/rft-codes', keyClass: '' },
      { action: 'dynamodb:DeleteItem', resource: 'table/rft-codes', keyClass: '' },
      { action: 'dynamodb:Query', resource: 'table/rft-codes/index/by_referrer' },
    ]);
    assert.deepEqual(problems.sort(), [
      'f: add a grant of dynamodb:Query on table/rft-codes/index/by_referrer: the code calls it',
      'f: its grant of dynamodb:DeleteItem on table/rft-codes is confined to keys active#* but the code touches plain* keys: widen the condition, or change the code',
      'f: remove dynamodb:UpdateItem on table/rft-codes from its grants: no call needs it',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. The roles against the matrix. Resources are written as the normaliser below names them:
//   table/<name>, table/<name>/index/<gsi>, queue/<name>, function/<name>, logs/<group>,
//   secret/rft/secrets, topic/<name>, full literal ARNs (SES, Bedrock), or *.
// ---------------------------------------------------------------------------------------------

const conditionLine = (g: Grant): string | undefined =>
  g.condition &&
  Object.entries(g.condition)
    .flatMap(([op, kv]) => Object.entries(kv).map(([k, vals]) => `${op} ${k}=${[...vals].sort().join(',')}`))
    .sort()
    .join(' & ');

/** The resources of a target, as the normaliser names them. */
function expectedResources(target: Target, fn: string): string[] {
  if ('stream' in target) return [`stream/${target.stream}`];
  if ('index' in target) return [`table/${target.table}/index/${target.index}`];
  if ('table' in target) return [`table/${target.table}`];
  if ('queue' in target) return [`queue/${target.queue}`];
  if ('fn' in target) return [`function/${target.fn}`];
  if ('secret' in target) return ['secret/rft/secrets'];
  if ('sesIdentity' in target) {
    return ['shop.example', FROM_EMAIL].map((i) => `arn:aws:ses:${REGION}:${ACCOUNT}:identity/${i}`);
  }
  if ('bedrockModel' in target) return bedrockResources(MODEL_ID, 'aws', REGION, ACCOUNT);
  if ('smsToPhoneNumbers' in target) return ['*'];
  if ('ownLogGroup' in target) return [`logs//aws/lambda/${fn}`];
  if ('alarmTopic' in target) return ['topic/rft-alarms'];
  throw new Error(`unknown target ${JSON.stringify(target)}`);
}

/** A function's row of the matrix as "action resource [if condition]" lines. */
function expectedLines(fn: string): string[] {
  return PERMISSIONS[fn as FunctionName].flatMap((g) =>
    g.actions.flatMap((a) => expectedResources(g.on, fn).map((r) => line(a, r, conditionLine(g)))),
  );
}

const line = (action: string, resource: string, condition?: string) =>
  condition ? `${action} ${resource} if ${condition}` : `${action} ${resource}`;
const LEADING_WEBHOOK = 'ForAllValues:StringLike dynamodb:LeadingKeys=webhook#*';
const LEADING_CLAIM = 'ForAllValues:StringLike dynamodb:LeadingKeys=claim#*';
const LEADING_FIRST_ORDER = 'ForAllValues:StringLike dynamodb:LeadingKeys=first#*';
const LEADING_GUARD = 'ForAllValues:StringLike dynamodb:LeadingKeys=active#*';
const LEADING_ORDER = 'ForAllValues:StringLike dynamodb:LeadingKeys=order#*';
const LEADING_UNSUBSCRIBE = 'ForAllValues:StringLike dynamodb:LeadingKeys=unsub#*';

// ---------------------------------------------------------------------------------------------
// Reading the template.
// ---------------------------------------------------------------------------------------------

type Json = { Resources: Resources };

/** A readable name for a resource's ARN (Fn::GetAtt Arn / Ref), from its type and name. */
function nameOf(json: Json, id: string): string {
  const r = json.Resources[id];
  if (!r) return `?${id}`;
  const p = r.Properties ?? {};
  switch (r.Type) {
    case 'AWS::DynamoDB::Table':
      return `table/${p.TableName}`;
    case 'AWS::SQS::Queue':
      return `queue/${p.QueueName}`;
    case 'AWS::Lambda::Function':
      return `function/${p.FunctionName}`;
    case 'AWS::Logs::LogGroup':
      return `logs/${p.LogGroupName}`;
    case 'AWS::SecretsManager::Secret':
      return `secret/${p.Name}`;
    case 'AWS::SES::EmailIdentity':
      return p.EmailIdentity; // Ref of an EmailIdentity is its name
    case 'AWS::SNS::Topic':
      return `topic/${p.TopicName}`; // Ref of a topic is its ARN
    default:
      return `?${r.Type}:${id}`;
  }
}

/** Resolves the intrinsics CDK uses in ARNs to a plain string. Anything else stays visible. */
function resolve(json: Json, v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown>;
  if (o && typeof o === 'object') {
    if ('Ref' in o) {
      const id = String(o.Ref);
      if (id === 'AWS::Partition') return 'aws';
      if (id === 'AWS::Region') return REGION;
      if (id === 'AWS::AccountId') return ACCOUNT;
      if (id === 'AWS::URLSuffix') return 'amazonaws.com';
      return nameOf(json, id);
    }
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      if (attr === 'StreamArn') return nameOf(json, id).replace(/^table\//, 'stream/');
      return attr === 'Arn' ? nameOf(json, id) : `?${id}.${attr}`;
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolve(json, p)).join(sep);
    }
  }
  return `?${JSON.stringify(v)}`;
}

const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

interface Statement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** One statement as "action resource [if condition]" lines. Deny and Not* are reported as is. */
function flatten(json: Json, st: Statement): string[] {
  if (st.Effect !== 'Allow' || st.NotAction || st.NotResource) return [`unexpected statement ${JSON.stringify(st)}`];
  const conds = Object.entries(st.Condition ?? {})
    .flatMap(([op, kv]) =>
      Object.entries(kv).map(([k, vals]) => `${op} ${k}=${asList(vals as string | string[]).map((x) => resolve(json, x)).sort().join(',')}`),
    )
    .sort()
    .join(' & ');
  return asList(st.Action).flatMap((a) =>
    asList(st.Resource).map((r) => line(String(a), resolve(json, r), conds || undefined)),
  );
}

/** The role id of a function's execution role. */
function roleIdOf(json: Json, fn: string): string {
  return json.Resources[functionId(json, fn)].Properties.Role['Fn::GetAtt'][0];
}

/** Every permission that reaches the role: inline policies, AWS::IAM::Policy, managed policies. */
function permissionsOfRole(json: Json, roleId: string): string[] {
  const role = json.Resources[roleId];
  const out: string[] = [];
  for (const arn of asList(role.Properties.ManagedPolicyArns)) out.push(`managed policy ${resolve(json, arn)}`);
  for (const p of asList(role.Properties.Policies) as { PolicyDocument: { Statement: Statement[] } }[]) {
    for (const st of p.PolicyDocument.Statement) out.push(...flatten(json, st));
  }
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const p of Object.values(resourcesOfType(json, type))) {
      const roles = asList(p.Properties.Roles).map((r) => JSON.stringify(r));
      if (!roles.includes(JSON.stringify({ Ref: roleId }))) continue;
      for (const st of p.Properties.PolicyDocument.Statement as Statement[]) out.push(...flatten(json, st));
    }
  }
  return out;
}

/** Lines in `actual` not expected, and expected lines missing. */
function diff(actual: string[], expected: string[]): { gained: string[]; lost: string[] } {
  const a = new Set(actual);
  const e = new Set(expected);
  return { gained: [...a].filter((x) => !e.has(x)).sort(), lost: [...e].filter((x) => !a.has(x)).sort() };
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

const { json } = synth();

const EXPECTED: Record<string, string[]> = Object.fromEntries(FUNCTIONS.map((fn) => [fn, expectedLines(fn)]));

describe('the roles hold exactly the permissions matrix', () => {
  it('the matrix covers exactly the six functions', () => {
    assert.deepEqual(Object.keys(PERMISSIONS).sort(), [...FUNCTIONS].sort());
  });

  for (const fn of FUNCTIONS) {
    it(`${fn}: its role holds exactly its row, nothing more, nothing less`, () => {
      const roleId = roleIdOf(json, fn);
      const trust = json.Resources[roleId].Properties.AssumeRolePolicyDocument.Statement;
      assert.deepEqual(
        trust.map((s: { Principal: unknown; Action: unknown }) => [s.Principal, s.Action]),
        [[{ Service: 'lambda.amazonaws.com' }, 'sts:AssumeRole']],
      );
      const { gained, lost } = diff(permissionsOfRole(json, roleId), EXPECTED[fn]);
      assert.deepEqual({ gained, lost }, { gained: [], lost: [] }, `${fn} permissions differ from the matrix`);
    });
  }

  it('no "*" action anywhere, and "*" resource only for SMS and the model behind an inference profile', () => {
    for (const fn of FUNCTIONS) {
      for (const l of permissionsOfRole(json, roleIdOf(json, fn))) {
        const [action, resource] = l.split(' ');
        assert.ok(!action.includes('*'), `${fn}: wildcard action in "${l}"`);
        if (resource.includes('*') && !resource.startsWith('arn:aws:bedrock:*::foundation-model/')) {
          assert.equal(l, 'sns:Publish *', `${fn}: wildcard resource in "${l}"`);
          assert.equal(fn, 'rft-rewarder');
        }
      }
    }
  });

  it('only the rewarder writes the ledger; nobody else touches rft-rewards but to read', () => {
    for (const fn of FUNCTIONS) {
      const writes = permissionsOfRole(json, roleIdOf(json, fn)).filter((l) =>
        /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem) table\/rft-rewards/.test(l),
      );
      assert.equal(writes.length > 0, fn === 'rft-rewarder', `${fn}: ${writes.join('; ')}`);
    }
  });

  it('nobody deletes a code, a referral or an order: only guards (active#), claims (claim#) and first orders (first#)', () => {
    for (const fn of FUNCTIONS) {
      for (const l of permissionsOfRole(json, roleIdOf(json, fn))) {
        if (/^dynamodb:DeleteItem table\/rft-codes( |$)/.test(l)) assert.ok(l.endsWith(`if ${LEADING_GUARD}`), `${fn}: ${l}`);
        if (/^dynamodb:DeleteItem table\/rft-referrals( |$)/.test(l)) {
          assert.ok(l.endsWith(`if ${LEADING_CLAIM}`) || l.endsWith(`if ${LEADING_FIRST_ORDER}`), `${fn}: ${l}`);
        }
      }
    }
  });

  it('the rewarder deletes only for erasure: claims, guards, touches, first orders and sealing keys, never ledger, audit or codes', () => {
    const lines = permissionsOfRole(json, roleIdOf(json, 'rft-rewarder'));
    const deletes = lines.filter((l) => l.startsWith('dynamodb:DeleteItem')).map((l) => l.replace(/arn:aws:dynamodb:[^:]+:[^:]+:/, ''));
    assert.deepEqual(deletes.sort(), [
      `dynamodb:DeleteItem table/rft-clicks`,
      `dynamodb:DeleteItem table/rft-codes if ${LEADING_GUARD}`,
      `dynamodb:DeleteItem table/rft-keys`,
      `dynamodb:DeleteItem table/rft-referrals if ${LEADING_CLAIM}`,
      `dynamodb:DeleteItem table/rft-referrals if ${LEADING_FIRST_ORDER}`,
    ].sort());
  });

  it('sealing keys (rft-keys) are read by owner only, and destroyed only by erasure, in the rewarder', () => {
    for (const fn of FUNCTIONS) {
      const lines = permissionsOfRole(json, roleIdOf(json, fn)).filter((l) => / table\/rft-keys( |$)/.test(l));
      // Never read whole: no Scan or Query; never changed in place: a key is created once and deleted.
      for (const l of lines) assert.match(l, /^dynamodb:(GetItem|BatchGetItem|PutItem|DeleteItem) /, `${fn}: ${l}`);
      assert.equal(lines.some((l) => l.startsWith('dynamodb:DeleteItem ')), fn === 'rft-rewarder', `${fn}: ${lines.join('; ')}`);
    }
  });

  it('the edge cannot write referrals or the ledger, nor reach Bedrock or SNS; it mails only as messages.from_email', () => {
    const lines = permissionsOfRole(json, roleIdOf(json, 'rft-edge'));
    // Its one write there cannot touch a referral or a claim: the unsubscribe link's button
    // records an address's hash, under unsubscribe keys only (a person's choice, taken where
    // they make it).
    const recordsUnsubscribes = (l: string) =>
      l.startsWith('dynamodb:PutItem table/rft-referrals') && l.endsWith(`if ${LEADING_UNSUBSCRIBE}`);
    assert.deepEqual(
      lines.filter(
        (l) =>
          (/^dynamodb:(PutItem|UpdateItem|DeleteItem) table\/rft-(referrals|rewards)/.test(l) && !recordsUnsubscribes(l)) ||
          /^(bedrock|sns):/.test(l),
      ),
      [],
    );
    // Its batch read there sees orders only (the CSV import's duplicates), never referrals.
    const batchReads = lines.filter((l) => l.startsWith('dynamodb:BatchGetItem table/rft-referrals'));
    assert.ok(batchReads.length > 0 && batchReads.every((l) => l.endsWith(`if ${LEADING_ORDER}`)), batchReads.join('; '));
    assert.ok(lines.some(recordsUnsubscribes), lines.join('; '));
    // The console's sign-in links are its only mail: SendEmail from the programme's identity.
    const mail = lines.filter((l) => l.startsWith('ses:'));
    assert.ok(mail.length > 0 && mail.every((l) => /^ses:SendEmail arn:aws:ses:[^ ]+:identity\//.test(l)), mail.join('; '));
    // Its audit item access is confined to webhook ids.
    assert.deepEqual(
      lines.filter((l) => / table\/rft-audit( |$)/.test(l) && !l.endsWith(`if ${LEADING_WEBHOOK}`)),
      [],
    );
  });

  it('the comparison catches a gained and a lost permission (the test can fail)', () => {
    const mutated: Json = structuredClone(json);
    const roleId = roleIdOf(mutated, 'rft-sweep');
    const policy = Object.values(resourcesOfType(mutated, 'AWS::IAM::Policy')).find((p) =>
      asList(p.Properties.Roles).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })),
    );
    assert.ok(policy);
    const statements = policy.Properties.PolicyDocument.Statement as Statement[];
    statements.splice(statements.findIndex((st) => JSON.stringify(st).includes('AuditTable')), 1); // drop the audit PutItem
    statements.push({ Effect: 'Allow', Action: 'dynamodb:DeleteItem', Resource: { 'Fn::GetAtt': [roleId, 'Arn'] } });
    mutated.Resources[roleId].Properties.ManagedPolicyArns = ['arn:aws:iam::aws:policy/AdministratorAccess'];
    const { gained, lost } = diff(permissionsOfRole(mutated, roleId), EXPECTED['rft-sweep']);
    assert.deepEqual(lost, ['dynamodb:PutItem table/rft-audit']);
    assert.equal(gained.length, 2);
    assert.ok(gained.some((g) => g.startsWith('managed policy arn:aws:iam::aws:policy/AdministratorAccess')));
    assert.ok(gained.some((g) => g.startsWith('dynamodb:DeleteItem ?AWS::IAM::Role')));
  });
});
