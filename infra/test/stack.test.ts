/**
 * ReferralTrackerStack, resource by resource: every value asserted here is one the design or
 * CONTRACT names, written out literally so a change in lib/ has to be made here too.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ConfigError, readConfig } from '../lib/config';
import { ReferralTrackerStack } from '../lib/stack';
import { FUNCTIONS, functionId, resourcesOfType, synth, tempDir } from './helpers';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const { template, json, assemblyDir } = synth();
const R = json.Resources;

/** Logical id of the only resource of `type` whose property `prop` equals `value`. */
function idWhere(type: string, prop: string, value: unknown): string {
  const hits = Object.entries(resourcesOfType(json, type)).filter(([, r]) => r.Properties[prop] === value);
  assert.equal(hits.length, 1, `one ${type} with ${prop}=${String(value)}`);
  return hits[0][0];
}
const getAtt = (id: string, attr: string) => ({ 'Fn::GetAtt': [id, attr] });
const ref = (id: string) => ({ Ref: id });
const tableId = (name: string) => idWhere('AWS::DynamoDB::Table', 'TableName', name);
const queueId = (name: string) => idWhere('AWS::SQS::Queue', 'QueueName', name);
const fnId = (name: string) => functionId(json, name);

describe('functions', () => {
  const expected: Record<string, [number, number]> = {
    'rft-edge': [512, 10],
    'rft-minter': [256, 5],
    'rft-attributor': [256, 30],
    'rft-rewarder': [256, 60],
    'rft-screen': [256, 5],
    'rft-sweep': [256, 300],
  };
  const layerIds = Object.keys(resourcesOfType(json, 'AWS::Lambda::LayerVersion'));

  it('there are exactly six', () => {
    template.resourceCountIs('AWS::Lambda::Function', 6);
    assert.deepEqual(
      Object.values(resourcesOfType(json, 'AWS::Lambda::Function')).map((r) => r.Properties.FunctionName).sort(),
      [...FUNCTIONS].sort(),
    );
  });

  for (const name of FUNCTIONS) {
    it(`${name}: provided.al2023, arm64, bootstrap, memory and timeout`, () => {
      const p = R[fnId(name)].Properties;
      assert.equal(p.Runtime, 'provided.al2023');
      assert.deepEqual(p.Architectures, ['arm64']);
      assert.equal(p.Handler, 'bootstrap');
      assert.equal(p.MemorySize, expected[name][0]);
      assert.equal(p.Timeout, expected[name][1]);
    });

    it(`${name}: the settings layer and the shared environment`, () => {
      const p = R[fnId(name)].Properties;
      assert.equal(layerIds.length, 1);
      assert.deepEqual(p.Layers, [ref(layerIds[0])]);
      const env = p.Environment.Variables;
      const keys = [
        'RFT_SETTINGS', 'RFT_SECRET_ID', 'RFT_TABLE_CODES', 'RFT_TABLE_CLICKS', 'RFT_TABLE_REFERRALS',
        'RFT_TABLE_REWARDS', 'RFT_TABLE_AUDIT', 'RFT_SIGNUP_QUEUE_URL', 'RFT_REWARD_QUEUE_URL',
        'RFT_MINTER_FUNCTION', 'RFT_SCREEN_FUNCTION', 'RFT_REWARDER_FUNCTION', 'RUST_LOG',
      ];
      if (name === 'rft-rewarder') keys.push('RFT_SMS_TYPE');
      assert.deepEqual(Object.keys(env).sort(), keys.sort());
      assert.equal(env.RFT_SETTINGS, '/opt/rft/settings.toml');
      assert.equal(env.RUST_LOG, 'info');
      assert.equal(env.RFT_MINTER_FUNCTION, 'rft-minter');
      assert.equal(env.RFT_SCREEN_FUNCTION, 'rft-screen');
      assert.deepEqual(env.RFT_SECRET_ID, ref(idWhere('AWS::SecretsManager::Secret', 'Name', 'rft/secrets')));
      assert.deepEqual(env.RFT_TABLE_CODES, ref(tableId('rft-codes')));
      assert.deepEqual(env.RFT_TABLE_CLICKS, ref(tableId('rft-clicks')));
      assert.deepEqual(env.RFT_TABLE_REFERRALS, ref(tableId('rft-referrals')));
      assert.deepEqual(env.RFT_TABLE_REWARDS, ref(tableId('rft-rewards')));
      assert.deepEqual(env.RFT_TABLE_AUDIT, ref(tableId('rft-audit')));
      assert.deepEqual(env.RFT_SIGNUP_QUEUE_URL, ref(queueId('rft-signup-jobs')));
      assert.deepEqual(env.RFT_REWARD_QUEUE_URL, ref(queueId('rft-reward-jobs')));
      if (name === 'rft-rewarder') assert.equal(env.RFT_SMS_TYPE, 'Transactional');
    });

    it(`${name}: its own log group, kept 7 days, and its own role`, () => {
      const p = R[fnId(name)].Properties;
      const lg = idWhere('AWS::Logs::LogGroup', 'LogGroupName', `/aws/lambda/${name}`);
      assert.equal(R[lg].Properties.RetentionInDays, 7);
      assert.deepEqual(p.LoggingConfig, { LogGroup: ref(lg) });
      const roleId = p.Role['Fn::GetAtt'][0];
      assert.equal(R[roleId].Type, 'AWS::IAM::Role');
      const sharing = Object.values(resourcesOfType(json, 'AWS::Lambda::Function')).filter(
        (f) => f.Properties.Role['Fn::GetAtt'][0] === roleId,
      );
      assert.equal(sharing.length, 1, `${name}'s role is its own`);
    });
  }

  it('six log groups, all with 7-day retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 6);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('the settings layer is arm64 and ships the settings file at rft/settings.toml', () => {
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['arm64'],
    });
    const staged = findStagedSettings(assemblyDir);
    assert.equal(staged.length, 1, 'one asset holds rft/settings.toml');
    assert.equal(
      fs.readFileSync(staged[0], 'utf8'),
      fs.readFileSync(path.join(REPO_ROOT, 'settings.example.toml'), 'utf8'),
    );
  });

  it('context settingsFile chooses the file shipped in the layer', () => {
    const dir = tempDir('rft-settings-test-');
    const file = path.join(dir, 'prod.toml');
    fs.writeFileSync(file, '[team]\nemail = "team@shop.example"\n');
    const s = synth({ settingsFile: file });
    const staged = findStagedSettings(s.assemblyDir);
    assert.equal(staged.length, 1);
    assert.equal(fs.readFileSync(staged[0], 'utf8'), '[team]\nemail = "team@shop.example"\n');
  });
});

describe('function URL', () => {
  it('exactly one, on rft-edge, auth NONE, with its URL as output EdgeUrl', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    const [urlId, url] = Object.entries(resourcesOfType(json, 'AWS::Lambda::Url'))[0];
    assert.equal(url.Properties.AuthType, 'NONE');
    assert.deepEqual(url.Properties.TargetFunctionArn, getAtt(fnId('rft-edge'), 'Arn'));
    assert.deepEqual(json.Outputs?.EdgeUrl?.Value, getAtt(urlId, 'FunctionUrl'));
  });

  it('public invoke permissions exist for rft-edge only', () => {
    const perms = Object.values(resourcesOfType(json, 'AWS::Lambda::Permission'));
    assert.ok(perms.length > 0);
    for (const p of perms) {
      assert.deepEqual(p.Properties.FunctionName, getAtt(fnId('rft-edge'), 'Arn'));
    }
  });
});

describe('tables', () => {
  it('exactly five, on demand, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 5);
    template.allResourcesProperties('AWS::DynamoDB::Table', { BillingMode: 'PAY_PER_REQUEST' });
    for (const r of Object.values(R).filter((r) => r.Type === 'AWS::DynamoDB::Table')) {
      const raw = r as unknown as { DeletionPolicy?: string; UpdateReplacePolicy?: string };
      assert.equal(raw.DeletionPolicy, 'Retain');
      assert.equal(raw.UpdateReplacePolicy, 'Retain');
    }
  });

  type Key = [string, 'S' | 'N'];
  interface Expect {
    pk: Key;
    sk?: Key;
    ttl?: string;
    pitr: boolean;
    gsis: { name: string; pk: Key; sk: Key; projection: 'ALL' | 'KEYS_ONLY' | string[] }[];
  }
  const expected: Record<string, Expect> = {
    'rft-codes': {
      pk: ['code', 'S'],
      pitr: false,
      gsis: [{ name: 'by_referrer', pk: ['referrer_id', 'S'], sk: ['created_at', 'N'], projection: 'ALL' }],
    },
    'rft-clicks': {
      pk: ['attribution_id', 'S'],
      sk: ['click_ts', 'N'],
      ttl: 'expires_at',
      pitr: false,
      gsis: [
        { name: 'by_code', pk: ['code', 'S'], sk: ['click_ts', 'N'], projection: ['expires_at_ms', 'channel'] },
        { name: 'by_browser', pk: ['browser', 'S'], sk: ['click_ts', 'N'], projection: 'ALL' },
      ],
    },
    'rft-referrals': {
      pk: ['referred_id', 'S'],
      pitr: false,
      gsis: [
        { name: 'by_queue', pk: ['queue', 'S'], sk: ['queue_ts', 'N'], projection: 'ALL' },
        { name: 'by_referrer', pk: ['referrer_id', 'S'], sk: ['created_at', 'N'], projection: 'ALL' },
        { name: 'by_claimant', pk: ['claimant', 'S'], sk: ['referred_id', 'S'], projection: 'KEYS_ONLY' },
      ],
    },
    'rft-rewards': {
      pk: ['referral_id', 'S'],
      sk: ['side', 'S'],
      pitr: true,
      gsis: [{ name: 'by_customer', pk: ['customer_id', 'S'], sk: ['created_at', 'N'], projection: 'ALL' }],
    },
    'rft-audit': {
      pk: ['event_id', 'S'],
      sk: ['ts', 'N'],
      ttl: 'expires_at',
      pitr: true,
      gsis: [{ name: 'by_subject', pk: ['subject', 'S'], sk: ['ts', 'N'], projection: 'ALL' }],
    },
  };

  for (const [name, e] of Object.entries(expected)) {
    it(`${name}: keys, GSIs, TTL, PITR`, () => {
      const p = R[tableId(name)].Properties;
      const keySchema = (pk: Key, sk?: Key) => [
        { AttributeName: pk[0], KeyType: 'HASH' },
        ...(sk ? [{ AttributeName: sk[0], KeyType: 'RANGE' }] : []),
      ];
      assert.deepEqual(p.KeySchema, keySchema(e.pk, e.sk));

      const attrs = new Map<string, string>();
      for (const k of [e.pk, e.sk, ...e.gsis.flatMap((g) => [g.pk, g.sk])]) if (k) attrs.set(k[0], k[1]);
      const actualAttrs = (p.AttributeDefinitions as { AttributeName: string; AttributeType: string }[])
        .map((a) => `${a.AttributeName}:${a.AttributeType}`)
        .sort();
      assert.deepEqual(actualAttrs, [...attrs].map(([n, t]) => `${n}:${t}`).sort());

      const gsis = (p.GlobalSecondaryIndexes ?? []) as { IndexName: string }[];
      assert.deepEqual(
        gsis.map((g) => g.IndexName).sort(),
        e.gsis.map((g) => g.name).sort(),
      );
      for (const g of e.gsis) {
        const actual = gsis.find((x) => x.IndexName === g.name);
        assert.deepEqual(actual, {
          IndexName: g.name,
          KeySchema: keySchema(g.pk, g.sk),
          Projection:
            g.projection === 'ALL' || g.projection === 'KEYS_ONLY'
              ? { ProjectionType: g.projection }
              : { ProjectionType: 'INCLUDE', NonKeyAttributes: g.projection },
        });
      }

      if (e.ttl) assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: e.ttl, Enabled: true });
      else assert.equal(p.TimeToLiveSpecification, undefined);

      if (e.pitr) assert.equal(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true);
      else assert.notEqual(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true);
    });
  }
});

describe('queues', () => {
  it('four: two job queues and their DLQs', () => {
    template.resourceCountIs('AWS::SQS::Queue', 4);
    assert.deepEqual(
      Object.values(resourcesOfType(json, 'AWS::SQS::Queue')).map((q) => q.Properties.QueueName).sort(),
      ['rft-reward-jobs', 'rft-reward-jobs-dlq', 'rft-signup-jobs', 'rft-signup-jobs-dlq'],
    );
  });

  for (const [queue, consumer, timeout] of [
    ['rft-signup-jobs', 'rft-attributor', 30],
    ['rft-reward-jobs', 'rft-rewarder', 60],
  ] as const) {
    it(`${queue}: own DLQ after 5 receives, visibility >= 6x ${consumer}'s timeout, DLQ kept 14 days`, () => {
      const p = R[queueId(queue)].Properties;
      const dlq = queueId(`${queue}-dlq`);
      assert.deepEqual(p.RedrivePolicy, { deadLetterTargetArn: getAtt(dlq, 'Arn'), maxReceiveCount: 5 });
      assert.ok(p.VisibilityTimeout >= 6 * timeout, `visibility ${p.VisibilityTimeout} >= ${6 * timeout}`);
      assert.equal(R[dlq].Properties.MessageRetentionPeriod, 14 * 24 * 3600);
      assert.equal(R[dlq].Properties.RedrivePolicy, undefined);
    });

    // The rewarder takes one job at a time (it may wait on the store's endpoint).
    const batch = queue === 'rft-reward-jobs' ? 1 : 10;
    it(`${consumer} consumes ${queue}: batch ${batch}, partial batch failures`, () => {
      const mappings = Object.values(resourcesOfType(json, 'AWS::Lambda::EventSourceMapping')).filter(
        (m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(getAtt(queueId(queue), 'Arn')),
      );
      assert.equal(mappings.length, 1);
      assert.deepEqual(mappings[0].Properties.FunctionName, ref(fnId(consumer)));
      assert.equal(mappings[0].Properties.BatchSize, batch);
      assert.deepEqual(mappings[0].Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    });
  }

  it('exactly two event source mappings', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });
});

describe('alarms', () => {
  const topicId = idWhere('AWS::SNS::Topic', 'TopicName', 'rft-alarms');
  const alarms = Object.values(resourcesOfType(json, 'AWS::CloudWatch::Alarm'));

  it('the alarm topic emails the operator (context alarmEmail)', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: ref(topicId),
    });
  });

  for (const queue of ['rft-signup-jobs', 'rft-reward-jobs']) {
    it(`${queue}-dlq: alarm when any message is visible`, () => {
      const hits = alarms.filter(
        (a) =>
          a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          JSON.stringify(a.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'QueueName', Value: getAtt(queueId(`${queue}-dlq`), 'QueueName') }]),
      );
      assert.equal(hits.length, 1);
      const p = hits[0].Properties;
      assert.equal(p.Namespace, 'AWS/SQS');
      assert.equal(p.Threshold, 0);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(p.AlarmActions, [ref(topicId)]);
    });

    it(`${queue}: alarm when the oldest message is over 15 minutes old`, () => {
      const hits = alarms.filter(
        (a) =>
          a.Properties.MetricName === 'ApproximateAgeOfOldestMessage' &&
          JSON.stringify(a.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'QueueName', Value: getAtt(queueId(queue), 'QueueName') }]),
      );
      assert.equal(hits.length, 1);
      const p = hits[0].Properties;
      assert.equal(p.Threshold, 900);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(p.AlarmActions, [ref(topicId)]);
    });
  }

  it('four alarms in all', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });
});

describe('sweep schedule', () => {
  it('EventBridge Scheduler invokes rft-sweep at rate(1 hour)', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.resourceCountIs('AWS::Events::Rule', 0);
    const s = Object.values(resourcesOfType(json, 'AWS::Scheduler::Schedule'))[0].Properties;
    assert.equal(s.ScheduleExpression, 'rate(1 hour)');
    assert.equal(s.State, 'ENABLED');
    assert.deepEqual(s.Target.Arn, getAtt(fnId('rft-sweep'), 'Arn'));
  });

  it('through its own role that may only invoke rft-sweep', () => {
    const s = Object.values(resourcesOfType(json, 'AWS::Scheduler::Schedule'))[0].Properties;
    const roleId = s.Target.RoleArn['Fn::GetAtt'][0];
    const role = R[roleId].Properties;
    assert.deepEqual(
      role.AssumeRolePolicyDocument.Statement.map((st: { Principal: unknown }) => st.Principal),
      [{ Service: 'scheduler.amazonaws.com' }],
    );
    assert.equal(role.ManagedPolicyArns, undefined);
    assert.equal(role.Policies, undefined);
    const statements = Object.values(resourcesOfType(json, 'AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: unknown) => JSON.stringify(r) === JSON.stringify(ref(roleId))))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const sweepArn = getAtt(fnId('rft-sweep'), 'Arn');
    assert.deepEqual(statements, [
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [sweepArn, { 'Fn::Join': ['', [sweepArn, ':*']] }],
      },
    ]);
  });
});

describe('secret, SES, budget', () => {
  it('exactly one secret, rft/secrets, holding the four keys as placeholders', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const s = R[idWhere('AWS::SecretsManager::Secret', 'Name', 'rft/secrets')].Properties;
    const value = JSON.parse(s.SecretString);
    assert.deepEqual(Object.keys(value).sort(), ['identity_key', 'ops_secret', 'signing_secret', 'store_api_key']);
    for (const v of Object.values(value)) assert.match(String(v), /REPLACE_ME/);
  });

  it('an SES identity for the sending domain (context sesDomain)', () => {
    template.resourceCountIs('AWS::SES::EmailIdentity', 1);
    template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'freshbox.uk' });
    synth({ sesDomain: 'shop.example' }).template.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: 'shop.example',
    });
  });

  it('a monthly COST budget of $5 emailing at 80% actual and 100% forecast', () => {
    template.resourceCountIs('AWS::Budgets::Budget', 1);
    const subscribers = [{ SubscriptionType: 'EMAIL', Address: 'budget@example.com' }];
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 5, Unit: 'USD' } },
      NotificationsWithSubscribers: Match.arrayWith([
        {
          Notification: { NotificationType: 'ACTUAL', ComparisonOperator: 'GREATER_THAN', Threshold: 80, ThresholdType: 'PERCENTAGE' },
          Subscribers: subscribers,
        },
        {
          Notification: { NotificationType: 'FORECASTED', ComparisonOperator: 'GREATER_THAN', Threshold: 100, ThresholdType: 'PERCENTAGE' },
          Subscribers: subscribers,
        },
      ]),
    });
  });

  it('context budgetAmountUsd sets the limit', () => {
    synth({ budgetAmountUsd: '12' }).template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetLimit: { Amount: 12, Unit: 'USD' } },
    });
  });
});

describe('configuration', () => {
  const app = (context: Record<string, unknown>) => new App({ context });

  it('defaults: eu-west-2, prebuilt, target/lambda, settings.example.toml, team email for alerts', () => {
    const cfg = readConfig(app({}).node);
    assert.equal(cfg.region, 'eu-west-2');
    assert.equal(cfg.lambdaSource, 'prebuilt');
    assert.equal(cfg.lambdaAssetRoot, path.join(REPO_ROOT, 'target', 'lambda'));
    assert.equal(cfg.settingsFile, path.join(REPO_ROOT, 'settings.example.toml'));
    assert.equal(cfg.sesDomain, 'freshbox.uk');
    assert.equal(cfg.budgetAmountUsd, 5);
    assert.equal(cfg.budgetEmail, 'referrals@freshbox.uk');
    assert.equal(cfg.alarmEmail, 'referrals@freshbox.uk');
  });

  it('rejects a bad lambdaSource, budget or email', () => {
    assert.throws(() => readConfig(app({ lambdaSource: 'docker' }).node), ConfigError);
    assert.throws(() => readConfig(app({ budgetAmountUsd: 'lots' }).node), ConfigError);
    assert.throws(() => readConfig(app({ alarmEmail: 'not-an-email' }).node), ConfigError);
  });

  it('a missing prebuilt bootstrap says to run make build', () => {
    const a = new App({
      outdir: tempDir('rft-cdk-out-'),
      context: { 'aws:cdk:bundling-stacks': [], lambdaAssetRoot: tempDir('rft-empty-') },
    });
    assert.throws(
      () => new ReferralTrackerStack(a, 'S', { config: readConfig(a.node), env: { region: 'eu-west-2' } }),
      (e: Error) => e instanceof ConfigError && /rft-edge\/bootstrap is missing: run `make build`/.test(e.message),
    );
  });

  it('lambdaSource=cargo builds the same six functions with cargo-lambda-cdk (bundling skipped here)', () => {
    const s = synth({ lambdaSource: 'cargo' });
    const fns = Object.values(resourcesOfType(s.json, 'AWS::Lambda::Function'));
    assert.deepEqual(fns.map((f) => f.Properties.FunctionName).sort(), [...FUNCTIONS].sort());
    for (const f of fns) {
      assert.equal(f.Properties.Runtime, 'provided.al2023');
      assert.deepEqual(f.Properties.Architectures, ['arm64']);
      assert.equal(f.Properties.Handler, 'bootstrap');
    }
  });
});

/** Files named rft/settings.toml inside the staged assets of a cloud assembly. */
function findStagedSettings(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((d) => d.startsWith('asset.'))
    .map((d) => path.join(dir, d, 'rft', 'settings.toml'))
    .filter((f) => fs.existsSync(f));
}
