/**
 * The CDK app: one stack, ReferralTrackerStack (with context namePrefix, `<prefix>ReferralTrackerStack`),
 * in the region from context `region` (default eu-west-2) and the account of the caller's
 * credentials. cdk-nag's AwsSolutions checks run on every synth and deploy: a finding the stack
 * does not acknowledge (with its reason, in lib/stack.ts) stops it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, readConfig } from '../lib/config';
import { ReferralTrackerStack } from '../lib/stack';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
try {
  const config = readConfig(app.node);
  new ReferralTrackerStack(app, `${config.namePrefix}ReferralTrackerStack`, {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: config.region },
    description: 'Referral tracker: links, attribution, screening and exactly-once rewards',
  });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
