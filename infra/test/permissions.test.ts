/**
 * Least privilege, checked on the synthesized template: every IAM statement that reaches each
 * function's role (inline, attached or managed, whoever added it: the matrix, CDK for event
 * sources or logging, anything else) is flattened to "action resource [condition]" lines and
 * compared with the matrix below, written independently of infra/lib/permissions.ts. A function
 * that gains or loses any action, resource or condition fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCOUNT, FUNCTIONS, REGION, type Resources, functionId, resourcesOfType, synth } from './helpers';

// ---------------------------------------------------------------------------------------------
// The expected matrix. Resources are written as the normaliser below names them:
//   table/<name>, table/<name>/index/<gsi>, queue/<name>, function/<name>, logs/<group>,
//   secret/rft/secrets, full literal ARNs (SES, Bedrock), or *.
// ---------------------------------------------------------------------------------------------

const LEADING_WEBHOOK = 'ForAllValues:StringLike dynamodb:LeadingKeys=webhook#*';
const LEADING_CLAIM = 'ForAllValues:StringLike dynamodb:LeadingKeys=claim#*';
const LEADING_GUARD = 'ForAllValues:StringLike dynamodb:LeadingKeys=active#*';
const SES_ARN = `arn:aws:ses:${REGION}:${ACCOUNT}:identity/freshbox.uk`;
const BEDROCK_ARNS = [
  `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0`,
  'arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
];

/** `actions` on each of `resources`, optionally under a condition. */
function on(actions: string[], resources: string[], condition?: string): string[] {
  return actions.flatMap((a) => resources.map((r) => line(a, r, condition)));
}
const line = (action: string, resource: string, condition?: string) =>
  condition ? `${action} ${resource} if ${condition}` : `${action} ${resource}`;
const logsFor = (fn: string) => on(['logs:CreateLogStream', 'logs:PutLogEvents'], [`logs//aws/lambda/${fn}`]);
const sqsConsume = (q: string) =>
  on(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'], [`queue/${q}`]);
const SECRET = on(['secretsmanager:GetSecretValue'], ['secret/rft/secrets']);
const SES = on(['ses:SendEmail', 'ses:SendRawEmail'], [SES_ARN]);
const BEDROCK = on(['bedrock:InvokeModel'], BEDROCK_ARNS);

const EXPECTED: Record<string, string[]> = {
  'rft-edge': [
    ...logsFor('rft-edge'),
    ...on(['dynamodb:GetItem'], ['table/rft-codes']),
    ...on(['dynamodb:Query'], ['table/rft-codes/index/by_referrer']),
    ...on(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:GetItem'], ['table/rft-clicks']),
    ...on(['dynamodb:Query'], ['table/rft-clicks/index/by_code']),
    ...on(['dynamodb:GetItem'], ['table/rft-referrals']),
    ...on(['dynamodb:Query'], ['table/rft-referrals/index/by_queue']),
    ...on(['dynamodb:Query'], ['table/rft-referrals/index/by_referrer']),
    ...on(['dynamodb:GetItem', 'dynamodb:Query'], ['table/rft-rewards']),
    ...on(['dynamodb:Query'], ['table/rft-rewards/index/by_customer']),
    ...on(['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem'], ['table/rft-audit'], LEADING_WEBHOOK),
    ...on(['dynamodb:Query'], ['table/rft-audit/index/by_subject']),
    ...on(['sqs:SendMessage'], ['queue/rft-signup-jobs', 'queue/rft-reward-jobs']),
    ...SECRET,
    ...on(['lambda:InvokeFunction'], ['function/rft-minter']),
    ...on(['lambda:InvokeFunction'], ['function/rft-rewarder']),
  ],
  'rft-minter': [
    ...logsFor('rft-minter'),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], ['table/rft-codes']),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['table/rft-clicks']),
    ...on(['dynamodb:PutItem'], ['table/rft-audit']),
    ...SES,
    ...BEDROCK,
  ],
  'rft-attributor': [
    ...logsFor('rft-attributor'),
    ...on(['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['table/rft-clicks']),
    ...on(['dynamodb:Query'], ['table/rft-clicks/index/by_browser']),
    ...on(['dynamodb:GetItem'], ['table/rft-codes']),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['table/rft-referrals']),
    ...on(['dynamodb:PutItem'], ['table/rft-audit']),
    ...sqsConsume('rft-signup-jobs'),
    ...on(['lambda:InvokeFunction'], ['function/rft-screen']),
  ],
  'rft-rewarder': [
    ...logsFor('rft-rewarder'),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'], ['table/rft-rewards']),
    ...on(['dynamodb:Query'], ['table/rft-rewards/index/by_customer']),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['table/rft-referrals']),
    ...on(['dynamodb:Query'], ['table/rft-referrals/index/by_queue']),
    ...on(['dynamodb:Query'], ['table/rft-referrals/index/by_referrer']),
    ...on(['dynamodb:Query'], ['table/rft-referrals/index/by_claimant']),
    ...on(['dynamodb:DeleteItem'], ['table/rft-referrals'], LEADING_CLAIM),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem'], ['table/rft-codes']),
    ...on(['dynamodb:Query'], ['table/rft-codes/index/by_referrer']),
    ...on(['dynamodb:DeleteItem'], ['table/rft-codes'], LEADING_GUARD),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:DeleteItem'], ['table/rft-clicks']),
    ...on(['dynamodb:PutItem'], ['table/rft-audit']),
    ...on(['dynamodb:Query'], ['table/rft-audit/index/by_subject']),
    ...sqsConsume('rft-reward-jobs'),
    ...on(['lambda:InvokeFunction'], ['function/rft-screen']),
    ...BEDROCK,
    ...SES,
    ...on(['sns:Publish'], ['*']),
    ...SECRET,
  ],
  'rft-screen': [
    ...logsFor('rft-screen'),
    ...on(['dynamodb:GetItem'], ['table/rft-codes']),
    ...on(['dynamodb:GetItem'], ['table/rft-clicks']),
    ...on(['dynamodb:Query'], ['table/rft-clicks/index/by_code']),
    ...SES,
    ...SECRET,
  ],
  'rft-sweep': [
    ...logsFor('rft-sweep'),
    ...on(['dynamodb:Query'], ['table/rft-referrals/index/by_queue']),
    ...on(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['table/rft-referrals']),
    ...on(['dynamodb:PutItem'], ['table/rft-audit']),
  ],
};

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

describe('permissions matrix', () => {
  it('the expected matrix covers exactly the six functions', () => {
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...FUNCTIONS].sort());
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

  it('no "*" action anywhere, and "*" resource only for sns:Publish (SMS)', () => {
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

  it('the rewarder deletes only for erasure: claims, guards and touches, never ledger, audit or codes', () => {
    const lines = permissionsOfRole(json, roleIdOf(json, 'rft-rewarder'));
    const deletes = lines.filter((l) => l.startsWith('dynamodb:DeleteItem')).map((l) => l.replace(/arn:aws:dynamodb:[^:]+:[^:]+:/, ''));
    assert.deepEqual(deletes.sort(), [
      `dynamodb:DeleteItem table/rft-clicks`,
      `dynamodb:DeleteItem table/rft-codes if ${LEADING_GUARD}`,
      `dynamodb:DeleteItem table/rft-referrals if ${LEADING_CLAIM}`,
    ].sort());
  });

  it('the edge cannot write referrals or the ledger, nor reach Bedrock, SES or SNS', () => {
    const lines = permissionsOfRole(json, roleIdOf(json, 'rft-edge'));
    assert.deepEqual(
      lines.filter(
        (l) =>
          /^dynamodb:(PutItem|UpdateItem|DeleteItem) table\/rft-(referrals|rewards)/.test(l) ||
          /^(bedrock|ses|sns):/.test(l),
      ),
      [],
    );
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
    statements.pop(); // drop the audit PutItem
    statements.push({ Effect: 'Allow', Action: 'dynamodb:DeleteItem', Resource: { 'Fn::GetAtt': [roleId, 'Arn'] } });
    mutated.Resources[roleId].Properties.ManagedPolicyArns = ['arn:aws:iam::aws:policy/AdministratorAccess'];
    const { gained, lost } = diff(permissionsOfRole(mutated, roleId), EXPECTED['rft-sweep']);
    assert.deepEqual(lost, ['dynamodb:PutItem table/rft-audit']);
    assert.equal(gained.length, 2);
    assert.ok(gained.some((g) => g.startsWith('managed policy arn:aws:iam::aws:policy/AdministratorAccess')));
    assert.ok(gained.some((g) => g.startsWith('dynamodb:DeleteItem ?AWS::IAM::Role')));
  });
});
