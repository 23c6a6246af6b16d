/**
 * ReferralTrackerStack: the whole referral tracker in one region: six arm64 Rust functions, six
 * on-demand tables, two job queues with their own DLQs, one Function URL, an hourly sweep, one
 * secret, SES, a budget, and alarms on everything that can fail quietly.
 *
 * No AWS Backup plan: the tables with PITR keep their own restore points. rft-keys, the keys
 * that seal personal fields in the others, has no PITR and must never be backed up (nor
 * exported, which needs PITR): erasure destroys keys there, so an older copy of the other
 * tables holds those fields unreadable (test/stack.test.ts checks it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CfnElement,
  CfnOutput,
  CfnResource,
  Duration,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Stage,
  Validations,
  aws_budgets as budgets,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_secretsmanager as secretsmanager,
  aws_ses as ses,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { RustFunction, cargoLambdaVersion } from 'cargo-lambda-cdk';
import type { Construct } from 'constructs';
import { ConfigError, REPO_ROOT, type StackConfig, bedrockResources } from './config';
import { PERMISSIONS, type Target } from './permissions';
import {
  CLICK_STREAM,
  FUNCTION_NAMES,
  FUNCTION_SPECS,
  type FunctionName,
  MAX_RECEIVE_COUNT,
  QUEUE_CONSUMERS,
  QUEUE_NAMES,
  type QueueName,
  RETENTION_DAYS,
  SECRET_KEYS,
  SECRET_KEYS_OF_KIND,
  SECRET_NAME,
  SETTINGS_PATH_IN_LAYER,
  BATCH_SIZES,
  TABLE_NAMES,
  TABLE_SPECS,
  type TableName,
  type TableSpec,
  VISIBILITY_TIMEOUT_FACTOR,
} from './specs';

/** Props: the resolved configuration plus the usual stack props. */
export interface ReferralTrackerStackProps extends StackProps {
  readonly config: StackConfig;
}

/** The placeholder each secret key holds until an operator sets it (docs/deploy.md). */
export const SECRET_PLACEHOLDER = 'REPLACE_ME (see docs/deploy.md)';

/** 'rft-edge' -> 'Edge': construct ids. */
const idOf = (name: string) =>
  name
    .replace(/^rft-/, '')
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

/** The one stack. Resources are exposed for tests and for anyone extending it. */
export class ReferralTrackerStack extends Stack {
  readonly functions: Record<FunctionName, lambda.Function>;
  readonly roles: Record<FunctionName, iam.Role>;
  readonly logGroups: Record<FunctionName, logs.LogGroup>;
  readonly tables: Record<TableName, dynamodb.Table>;
  readonly queues: Record<QueueName, sqs.Queue>;
  readonly deadLetterQueues: Record<QueueName, sqs.Queue>;
  readonly secret: secretsmanager.Secret;
  /** The SES identity, when this stack creates it (not with `sesIdentityExists=true`). */
  readonly emailIdentity?: ses.EmailIdentity;
  readonly settingsLayer: lambda.LayerVersion;
  readonly alarmTopic: sns.Topic;
  private readonly config: StackConfig;

  constructor(scope: Construct, id: string, props: ReferralTrackerStackProps) {
    super(scope, id, props);
    const cfg = props.config;
    this.config = cfg;
    // Physical names: the tables' and queues' own, after the optional prefix that lets a second stack (staging)
    // live in the same account and Region.
    const named = (name: string) => `${cfg.namePrefix}${name}`;

    this.tables = mapNames(TABLE_NAMES, (name) => this.table(name, named(name), TABLE_SPECS[name]));
    // Alarms and the sweep's failures go here, emailed to the operator.
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: named('rft-alarms'),
      displayName: 'Referral tracker alarms',
      enforceSSL: true,
    });
    this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(cfg.alarmEmail));

    this.deadLetterQueues = mapNames(QUEUE_NAMES, (name) =>
      new sqs.Queue(this, `${idOf(name)}Dlq`, {
        queueName: named(`${name}-dlq`),
        retentionPeriod: Duration.days(RETENTION_DAYS),
        enforceSSL: true,
      }),
    );
    this.queues = mapNames(QUEUE_NAMES, (name) =>
      new sqs.Queue(this, `${idOf(name)}Queue`, {
        queueName: named(name),
        // As long as its DLQ: a job waiting out a long outage is not lost before it is parked.
        retentionPeriod: Duration.days(RETENTION_DAYS),
        // Lambda's rule: at least six times the consumer's timeout, so a message is not
        // redelivered while a batch is still being worked on.
        visibilityTimeout: Duration.seconds(FUNCTION_SPECS[QUEUE_CONSUMERS[name]].timeoutSecs * VISIBILITY_TIMEOUT_FACTOR),
        deadLetterQueue: { queue: this.deadLetterQueues[name], maxReceiveCount: MAX_RECEIVE_COUNT },
        enforceSSL: true,
      }),
    );

    // One secret, one $0.40 line. CloudFormation writes the placeholders only when it creates
    // the secret (or when this template value changes); values set later with
    // `aws secretsmanager put-secret-value` are left alone by later deploys.
    this.secret = new secretsmanager.Secret(this, 'Secrets', {
      secretName: named(SECRET_NAME),
      description: 'Referral tracker: webhook signing secret, ops link key, store API key, identity hash key',
      secretObjectValue: Object.fromEntries(
        [...SECRET_KEYS, ...SECRET_KEYS_OF_KIND[cfg.settings.storeKind]].map((k) => [
          k,
          SecretValue.unsafePlainText(SECRET_PLACEHOLDER),
        ]),
      ),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The domain of messages.from_email, with Easy DKIM (the three CNAME records are in the
    // outputs below). An identity that already exists is used as is: creating it again would
    // fail and roll the whole first deploy back.
    if (cfg.createSesIdentity) {
      this.emailIdentity = new ses.EmailIdentity(this, 'SendingDomain', {
        identity: ses.Identity.domain(cfg.sesDomain),
      });
    }

    // Stage the layer's files inside this synthesis's output directory, so nothing leaks.
    const stagingRoot = Stage.of(this)?.outdir ?? os.tmpdir();
    this.settingsLayer = new lambda.LayerVersion(this, 'Settings', {
      layerVersionName: named('rft-settings'),
      description: `Referral tracker settings (${path.basename(cfg.settingsFile)}) at /opt/${SETTINGS_PATH_IN_LAYER}`,
      code: lambda.Code.fromAsset(stageSettings(cfg.settingsFile, path.join(stagingRoot, 'rft-settings-staging'))),
      // No compatibleRuntimes: it is only a console hint, and CDK compares Runtime objects, which
      // cargo-lambda-cdk builds afresh (so PROVIDED_AL2023 would not match its provided.al2023).
      compatibleArchitectures: [lambda.Architecture.ARM_64],
    });

    const environment: Record<string, string> = {
      RFT_SETTINGS: `/opt/${SETTINGS_PATH_IN_LAYER}`,
      RFT_SECRET_ID: this.secret.secretArn,
      // RFT_TABLE_CODES and the rest: each table's variable as infra/tables.json names it.
      ...Object.fromEntries(TABLE_NAMES.map((name) => [TABLE_SPECS[name].env, this.tables[name].tableName])),
      RFT_SIGNUP_QUEUE_URL: this.queues['rft-signup-jobs'].queueUrl,
      RFT_REWARD_QUEUE_URL: this.queues['rft-reward-jobs'].queueUrl,
      // Physical names, not references: the minter and screen get these too, and a function
      // cannot reference its own name without a dependency cycle.
      RFT_MINTER_FUNCTION: named('rft-minter'),
      RFT_SCREEN_FUNCTION: named('rft-screen'),
      RFT_REWARDER_FUNCTION: named('rft-rewarder'),
      // The log level (rft_aws::init_tracing): `debug`, or per module `rft_core=debug,info`.
      RUST_LOG: 'info',
    };

    if (cfg.lambdaSource === 'cargo' && this.bundlingRequired && !cargoLambdaVersion()) {
      // cargo-lambda-cdk would otherwise fall back to Docker without saying why.
      throw new ConfigError(
        'lambdaSource=cargo needs `cargo lambda` on PATH (make build installs it into .venv: ' +
          'run with PATH=.venv/bin:$PATH), or use the default lambdaSource=prebuilt after `make build`',
      );
    }

    this.logGroups = {} as Record<FunctionName, logs.LogGroup>;
    this.roles = {} as Record<FunctionName, iam.Role>;
    this.functions = mapNames(FUNCTION_NAMES, (name) => {
      const spec = FUNCTION_SPECS[name];
      const logGroup = new logs.LogGroup(this, `${idOf(name)}Logs`, {
        logGroupName: `/aws/lambda/${named(name)}`,
        retention: logs.RetentionDays.ONE_WEEK,
        // Seven-day operational logs are not records; keep redeploys after a teardown clean.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // An explicit role: no AWSLambdaBasicExecutionRole (its logs grant is on "*"); the
      // permissions matrix adds logging on this function's own log group only.
      const role = new iam.Role(this, `${idOf(name)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${name}: exactly its row of infra/lib/permissions.ts`,
      });
      this.logGroups[name] = logGroup;
      this.roles[name] = role;
      const options: lambda.FunctionOptions = {
        functionName: named(name),
        description: `Referral tracker: ${name}`,
        role,
        logGroup,
        architecture: lambda.Architecture.ARM_64,
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSecs),
        layers: [this.settingsLayer],
        environment,
        // The edge keeps its share of the account's concurrency whatever the queues do.
        reservedConcurrentExecutions:
          name === 'rft-edge' && cfg.settings.edgeReservedConcurrency > 0 ? cfg.settings.edgeReservedConcurrency : undefined,
      };
      const fn: lambda.Function =
        cfg.lambdaSource === 'cargo'
          ? new RustFunction(this, idOf(name), {
              ...options,
              runtime: 'provided.al2023',
              manifestPath: path.join(REPO_ROOT, 'functions', name, 'Cargo.toml'),
              binaryName: name,
              // The size-optimised profile of Cargo.toml, as `make build` uses.
              bundling: { profile: 'lambda' },
            })
          : new lambda.Function(this, idOf(name), {
              ...options,
              runtime: lambda.Runtime.PROVIDED_AL2023,
              handler: 'bootstrap',
              code: lambda.Code.fromAsset(prebuiltDir(cfg.lambdaAssetRoot, name)),
            });
      // cfn-lint W3005: CDK makes a function depend on its role and the role's policy, so the
      // permissions exist before it can run; the role half repeats the Role GetAtt. Harmless.
      (fn.node.defaultChild as CfnResource).addMetadata('cfn-lint', { config: { ignore_checks: ['W3005'] } });
      return fn;
    });

    for (const name of FUNCTION_NAMES) {
      for (const grant of PERMISSIONS[name]) {
        this.roles[name].addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: [...grant.actions],
            resources: this.resolveTarget(grant.on, name),
            conditions: grant.condition ? structuredClone(grant.condition) : undefined,
          }),
        );
      }
    }

    // Each queue feeds exactly one consumer. A plain event source mapping rather than
    // SqsEventSource, because the latter also grants sqs:GetQueueUrl: the consumer's SQS
    // permissions come from the matrix alone. The mapping depends on the function, which depends
    // on its role's policy, so the permissions exist before the mapping is created.
    // Each consumer's concurrency is capped, so a burst of jobs neither takes the account's
    // quota from the edge nor is throttled into the DLQ: it waits in its queue instead.
    for (const name of QUEUE_NAMES) {
      this.functions[QUEUE_CONSUMERS[name]].addEventSourceMapping(`${idOf(name)}Source`, {
        eventSourceArn: this.queues[name].queueArn,
        batchSize: BATCH_SIZES[name],
        reportBatchItemFailures: true,
        maxConcurrency: cfg.settings.queueMaxConcurrency,
      });
    }

    this.clickStream();

    // Streamed responses: the ledger export is written a page at a time and never held whole
    // (nor capped at a buffered answer's 6 MB); rft-edge runs lambda_http's streaming runtime.
    const url = this.functions['rft-edge'].addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    this.sweepSchedule(named);
    this.alarms(named);
    this.budget(cfg);
    this.suppressNagFindings();

    new CfnOutput(this, 'EdgeUrl', {
      value: url.url,
      description: 'The one public surface: links are <base_url>/r/<code>; the store posts to /webhooks/* and /api/*',
    });
    new CfnOutput(this, 'SecretArn', { value: this.secret.secretArn, description: `Set its four keys (docs/deploy.md)` });
    const identity = this.emailIdentity;
    if (identity) {
      const dkim: [string, string][] = [
        [identity.dkimDnsTokenName1, identity.dkimDnsTokenValue1],
        [identity.dkimDnsTokenName2, identity.dkimDnsTokenValue2],
        [identity.dkimDnsTokenName3, identity.dkimDnsTokenValue3],
      ];
      dkim.forEach(([recordName, value], i) => {
        new CfnOutput(this, `DkimRecord${i + 1}`, {
          value: `${recordName} CNAME ${value}`,
          description: `SES DKIM record ${i + 1} for ${cfg.sesDomain}`,
        });
      });
    }
  }

  /** A table from its spec: on-demand, retained, keys, TTL, PITR and GSIs. */
  private table(name: TableName, physicalName: string, spec: TableSpec): dynamodb.Table {
    const attr = (a: { name: string; type: 'S' | 'N' }): dynamodb.Attribute => ({
      name: a.name,
      type: a.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
    });
    const table = new dynamodb.Table(this, `${idOf(name)}Table`, {
      tableName: physicalName,
      partitionKey: attr(spec.pk),
      sortKey: spec.sk ? attr(spec.sk) : undefined,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: spec.ttl,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: spec.pitr },
      stream: spec.streamNewImages ? dynamodb.StreamViewType.NEW_IMAGE : undefined,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const gsi of spec.gsis) {
      table.addGlobalSecondaryIndex({
        indexName: gsi.name,
        partitionKey: attr(gsi.pk),
        sortKey: gsi.sk ? attr(gsi.sk) : undefined,
        projectionType: gsi.keysOnly
          ? dynamodb.ProjectionType.KEYS_ONLY
          : gsi.include
            ? dynamodb.ProjectionType.INCLUDE
            : dynamodb.ProjectionType.ALL,
        nonKeyAttributes: gsi.include ? [...gsi.include] : undefined,
      });
    }
    return table;
  }

  /** The ARNs a permissions target names, for the function `self`. */
  private resolveTarget(target: Target, self: FunctionName): string[] {
    if ('stream' in target) {
      const arn = this.tables[target.stream].tableStreamArn;
      if (!arn) throw new Error(`permissions name the stream of ${target.stream}, which has none`);
      return [arn];
    }
    if ('index' in target) {
      const spec = TABLE_SPECS[target.table];
      if (!spec.gsis.some((g) => g.name === target.index)) {
        throw new Error(`permissions name index ${target.index} which ${target.table} does not have`);
      }
      return [`${this.tables[target.table].tableArn}/index/${target.index}`];
    }
    if ('table' in target) return [this.tables[target.table].tableArn];
    if ('queue' in target) return [this.queues[target.queue].queueArn];
    if ('fn' in target) return [this.functions[target.fn].functionArn];
    if ('secret' in target) return [this.secret.secretArn];
    if ('sesIdentity' in target) {
      // SES authorises a send on the identity it sends from: the domain, or the address itself
      // where that is verified too; in the sandbox also on each (verified) recipient.
      const cfg = this.config;
      const arn = (identity: string) => `arn:${this.partition}:ses:${this.region}:${this.account}:identity/${identity}`;
      return [cfg.sesDomain, cfg.settings.fromEmail, ...cfg.sesSandboxRecipients].map(arn);
    }
    if ('bedrockModel' in target) return bedrockResources(this.config.settings.modelId, this.partition, this.region, this.account);
    // SMS straight to a phone number has no resource ARN to name: AWS authorises sns:Publish
    // to a PhoneNumber only on "*". No topic is granted, so "*" reaches no other publish target.
    if ('smsToPhoneNumbers' in target) return ['*'];
    if ('ownLogGroup' in target) return [this.logGroups[self].logGroupArn];
    if ('alarmTopic' in target) return [this.alarmTopic.topicArn];
    throw new Error(`unknown permissions target ${JSON.stringify(target)}`);
  }

  /**
   * rft-clicks' stream into rft-sweep, which counts new clicks into the rollups. Only new
   * items with a code reach it (clicks and email invites; not counter rows, updates, erasure or
   * TTL deletions), so the function is not invoked for its own writes. A plain mapping, and its
   * failure destination set on the L1 resource, so neither grants anything: the sweep's role
   * holds exactly its row of the permissions matrix (the stream grant is there, for the
   * platform). Batches that keep failing go to the alarm topic after their retries.
   */
  private clickStream(): void {
    const sweep = this.functions['rft-sweep'];
    const streamArn = this.tables['rft-clicks'].tableStreamArn;
    if (!streamArn) throw new Error('rft-clicks has no stream');
    const mapping = sweep.addEventSourceMapping('ClickStreamSource', {
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: CLICK_STREAM.batchSize,
      maxBatchingWindow: Duration.seconds(CLICK_STREAM.maxBatchingWindowSecs),
      retryAttempts: CLICK_STREAM.retryAttempts,
      bisectBatchOnError: false,
      filters: [
        lambda.FilterCriteria.filter({
          eventName: lambda.FilterRule.isEqual('INSERT'),
          dynamodb: { NewImage: { c: { S: lambda.FilterRule.exists() } } },
        }),
      ],
    });
    (mapping.node.defaultChild as lambda.CfnEventSourceMapping).destinationConfig = {
      onFailure: { destination: this.alarmTopic.topicArn },
    };
    mapping.node.addDependency(this.roles['rft-sweep']);
  }

  /**
   * EventBridge Scheduler: rft-sweep every hour, through a role that may invoke only rft-sweep.
   * The invoke is asynchronous: a run that still fails after Lambda's two retries goes to the
   * alarm topic (the sweep's on-failure destination), so expiry cannot stop unnoticed.
   */
  private sweepSchedule(named: (name: string) => string): void {
    const sweep = this.functions['rft-sweep'];
    const role = new iam.Role(this, 'SweepScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: may invoke rft-sweep and nothing else',
    });
    new scheduler.Schedule(this, 'SweepSchedule', {
      scheduleName: named('rft-sweep-hourly'),
      description: 'Expire pending referrals whose window has passed',
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
      // The sweep is idempotent and the next run is an hour away: a few retries are plenty.
      target: new schedulerTargets.LambdaInvoke(sweep, {
        role,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });
    // The L1 resource rather than configureAsyncInvoke, whose SNS destination grants itself
    // sns:Publish: the sweep's role holds exactly its row of the permissions matrix.
    new lambda.CfnEventInvokeConfig(this, 'SweepFailures', {
      functionName: sweep.functionName,
      qualifier: '$LATEST',
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: Duration.hours(1).toSeconds(),
      destinationConfig: { onFailure: { destination: this.alarmTopic.topicArn } },
    }).node.addDependency(this.roles['rft-sweep']);
  }

  /**
   * Alarms to the alarm topic: parked jobs, jobs waiting too long, any function's errors or
   * throttles, and the Function URL's 5xx answers. Missing data is normal (no traffic).
   */
  private alarms(named: (name: string) => string): void {
    const action = new cwActions.SnsAction(this.alarmTopic);
    const alarm = (id: string, props: Omit<cloudwatch.AlarmProps, 'evaluationPeriods' | 'treatMissingData' | 'comparisonOperator'>) =>
      new cloudwatch.Alarm(this, id, {
        ...props,
        alarmName: props.alarmName && named(props.alarmName),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(action);
    const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };
    for (const name of QUEUE_NAMES) {
      alarm(`${idOf(name)}DlqAlarm`, {
        alarmName: `${name}-dlq-not-empty`,
        alarmDescription: `A job failed ${MAX_RECEIVE_COUNT} times and is parked in ${name}-dlq: inspect it, fix, redrive`,
        metric: this.deadLetterQueues[name].metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 0,
      });
      alarm(`${idOf(name)}AgeAlarm`, {
        alarmName: `${name}-oldest-over-15min`,
        alarmDescription: `The oldest job in ${name} has waited over 15 minutes: is ${QUEUE_CONSUMERS[name]} failing or throttled?`,
        metric: this.queues[name].metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: Duration.minutes(15).toSeconds(),
      });
    }
    for (const name of FUNCTION_NAMES) {
      const fn = this.functions[name];
      alarm(`${idOf(name)}ErrorsAlarm`, {
        alarmName: `${name}-errors`,
        alarmDescription: `${name} failed (crashed, timed out, or could not start): read /aws/lambda/${named(name)}`,
        metric: fn.metricErrors(fiveMinutes),
        threshold: 0,
      });
      alarm(`${idOf(name)}ThrottlesAlarm`, {
        alarmName: `${name}-throttled`,
        alarmDescription: `${name} was throttled: the account's Lambda concurrency is used up (docs/operations.md, 2.5)`,
        metric: fn.metricThrottles(fiveMinutes),
        threshold: 0,
      });
    }
    alarm('EdgeUrl5xxAlarm', {
      alarmName: 'rft-edge-5xx',
      alarmDescription: 'The Function URL answered 5xx: a webhook or API call was not served (the store retries webhooks)',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'Url5xxCount',
        dimensionsMap: { FunctionName: this.functions['rft-edge'].functionName },
        ...fiveMinutes,
      }),
      threshold: 0,
    });
  }

  /**
   * A monthly cost budget over the whole account bill, emailing at 80% actual and 100%
   * forecast. Budgets are global: its name carries the Region (and prefix) of this stack.
   */
  private budget(cfg: StackConfig): void {
    const subscribers = [{ subscriptionType: 'EMAIL', address: cfg.budgetEmail }];
    new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `${cfg.namePrefix}rft-monthly-cost-${cfg.region}`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: cfg.budgetAmountUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [
        {
          notification: { notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: 80, thresholdType: 'PERCENTAGE' },
          subscribers,
        },
        {
          notification: { notificationType: 'FORECASTED', comparisonOperator: 'GREATER_THAN', threshold: 100, thresholdType: 'PERCENTAGE' },
          subscribers,
        },
      ],
    });
  }

  /** cdk-nag (AwsSolutions) findings this design accepts, each acknowledged with its reason. */
  private suppressNagFindings(): void {
    const ack = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${id}`, reason });
    ack(this.roles['rft-rewarder'], 'IAM5[Resource::*]',
      'SMS straight to a phone number: AWS authorises that sns:Publish only on "*", and no topic is granted');
    const [, model] = bedrockResources(this.config.settings.modelId, '<AWS::Partition>', this.region, this.account);
    if (model?.includes(':bedrock:*::')) {
      for (const fn of ['rft-minter', 'rft-rewarder'] as const) {
        ack(this.roles[fn], `IAM5[Resource::${model}]`,
          'an inference profile routes each call to its model in any Region it serves; the model id still pins it');
      }
    }
    ack(this.node.findChild('SweepScheduleRole'), `IAM5[Resource::<${this.getLogicalId(this.functions['rft-sweep'].node.defaultChild as CfnElement)}.Arn>:*]`,
      "CDK's scheduler target grants rft-sweep's versions with it: still that one function only");
    ack(this.tables['rft-keys'], 'DDB3',
      "rft-keys seals the other tables' personal fields: erasure destroys keys, and a restore point would bring them back");
    ack(this.secret, 'SMG4',
      'its keys are shared with the store or key stored hashes: rotation is a coordinated manual step (docs/operations.md, section 6)');
  }
}

/** Builds a record keyed by every name in `names`. */
function mapNames<K extends string, V>(names: readonly K[], f: (name: K) => V): Record<K, V> {
  return Object.fromEntries(names.map((n) => [n, f(n)])) as Record<K, V>;
}

/** The directory `cargo lambda build --profile lambda --arm64` wrote for `name`, checked for `bootstrap`. */
function prebuiltDir(root: string, name: FunctionName): string {
  const dir = path.join(root, name);
  if (!fs.existsSync(path.join(dir, 'bootstrap'))) {
    throw new ConfigError(
      `${path.join(dir, 'bootstrap')} is missing: run \`make build\` first (cargo lambda build --profile lambda --arm64), ` +
        'or synthesize with -c lambdaSource=cargo',
    );
  }
  return dir;
}

/**
 * Copies the settings file into `dir` (emptied first) as `rft/settings.toml`, which a layer
 * unpacks to /opt/rft/settings.toml. The asset hash covers the content, so a changed file
 * publishes a new layer version and every function picks it up on the next deploy.
 */
export function stageSettings(settingsFile: string, dir: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  const dest = path.join(dir, SETTINGS_PATH_IN_LAYER);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(settingsFile, dest);
  return dir;
}
