// The referrer's page (/me) in a real browser: the rewards in plain sight, the link and its copy
// button (read back from the clipboard), share links that carry the invite with a channel tag,
// the invite-by-email form, the tier ladder, and the numbers refreshing without a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newContext, newPage, demoApi, eventually } from '../lib/harness.js';

let server;
let browser;
let api;
let dan;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  api = demoApi(server.base);
  dan = await api.link('c_dan_me', { first_name: 'Dan', email: 'dan.me@example.com' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(options = {}) {
  const context = await newContext(browser, { viewport: { width: 375, height: 800 }, baseURL: server.base, ...options });
  const page = await newPage(context);
  return { context, page };
}

test('the page shows both rewards, the link, the code, the ladder and channel-tagged share links', async () => {
  const { context, page } = await open();
  await page.goto(dan.portal_url);
  await page.getByTestId('reward-you').filter({ hasText: /\S/ }).waitFor();
  assert.equal(await page.getByTestId('reward-you').textContent(), '£10 off your next box');
  assert.equal(await page.getByTestId('reward-friend').textContent(), '£10 off your first box');
  assert.equal(await page.locator('#greeting').textContent(), 'Hi Dan, share FreshBox');
  assert.equal(await page.locator('#brand').textContent(), 'FreshBox', 'the brand comes from the JSON');
  assert.match(await page.locator('#reward-rule').textContent(), /within 30 days/);
  assert.equal(await page.getByTestId('link').inputValue(), dan.url);
  assert.equal(await page.getByTestId('code').textContent(), dan.code);

  const href = async (id) => page.getByTestId(id).getAttribute('href');
  const whatsapp = await href('share-whatsapp');
  assert.ok(whatsapp.startsWith('https://wa.me/?text='), whatsapp);
  const waText = decodeURIComponent(whatsapp.slice('https://wa.me/?text='.length));
  assert.equal(waText, dan.invite.replace(dan.url, `${dan.url}?ch=whatsapp`));
  const sms = await href('share-sms');
  assert.ok(sms.startsWith('sms:?&body='), sms);
  assert.equal(decodeURIComponent(sms.slice('sms:?&body='.length)), dan.invite.replace(dan.url, `${dan.url}?ch=sms`));
  const mail = new URL(await href('share-email'));
  assert.equal(mail.protocol, 'mailto:');
  assert.match(mail.searchParams.get('subject'), /Dan sent you £10 off your first box at FreshBox/);
  assert.equal(mail.searchParams.get('body'), dan.invite.replace(dan.url, `${dan.url}?ch=email`));

  // The ladder (settings have a tier from the 3rd referral) and Dan's place on it.
  await page.getByTestId('ladder').waitFor();
  assert.match(await page.getByTestId('ladder-position').textContent(), /had 0 successful referrals\. Your next one earns you £10 off your next box\. 2 more successful referrals and you move up to £25 off\./);
  assert.equal(await page.locator('.ladder li').count(), 2);
  assert.match(await page.locator('.ladder li[aria-current="step"]').textContent(), /Your 1st and 2nd referrals/);

  // The chart: 30 days, drawn as inline SVG.
  assert.equal(await page.locator('[data-testid="chart-svg"] g[data-date]').count(), 30);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the copy button puts the link on the clipboard', async () => {
  const { context, page } = await open();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  await page.goto(dan.portal_url);
  await page.waitForFunction((url) => document.getElementById('link').value === url, dan.url);
  await page.getByTestId('copy').click();
  await page.getByTestId('copy-status').filter({ hasText: 'Link copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), dan.url);
  assert.equal(await page.getByTestId('copy').textContent(), 'Copied');
  await context.close();
});

test('the invite form checks the address, then sends the invite through the email bridge', async () => {
  const { context, page } = await open();
  await page.goto(dan.portal_url);
  await page.getByTestId('invite-form').waitFor();
  await page.getByLabel('Friend\'s email').fill('not an email');
  await page.getByTestId('invite-send').click();
  await page.locator('#friend-email-error').filter({ hasText: 'like name@example.com' }).waitFor();
  assert.equal(await page.getByLabel('Friend\'s email').getAttribute('aria-invalid'), 'true');

  await page.getByLabel('Friend\'s first name').fill('Kim');
  await page.getByLabel('Friend\'s email').fill('kim.me@example.com');
  await page.getByTestId('invite-send').click();
  await page.getByTestId('invite-status').filter({ hasText: 'Invite sent to Kim' }).waitFor();
  assert.equal(await page.getByLabel('Friend\'s email').inputValue(), '', 'the form is cleared');
  await eventually(async () => (await api.outbox()).some((m) => m.kind === 'invite' && m.to === 'kim.me@example.com'), { what: 'the invite email' });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the numbers refresh every 15 s without a reload', async () => {
  const { context, page } = await open({ viewport: { width: 1280, height: 900 } });
  await page.clock.install();
  await page.goto(dan.portal_url);
  await page.getByTestId('stat-clicks').filter({ hasText: /^\d+$/ }).waitFor();
  await page.getByTestId('updated').filter({ hasText: 'Updated' }).waitFor();
  const before = Number(await page.getByTestId('stat-clicks').textContent());
  await page.evaluate(() => { window.__sameDocument = true; });

  await api.click(dan.code, 'sms');
  await api.click(dan.code, 'sms');
  await page.clock.fastForward(14000);
  await page.waitForTimeout(300);
  assert.equal(Number(await page.getByTestId('stat-clicks').textContent()), before, 'no refresh before 15 s');
  await page.clock.fastForward(1500);
  await page.getByTestId('stat-clicks').filter({ hasText: String(before + 2) }).waitFor();
  await page.locator('#channels li[data-channel="sms"]').waitFor();
  assert.match(await page.locator('#channels li[data-channel="sms"]').textContent(), /Text message/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('an expired link mid-visit says so plainly', async () => {
  const { context, page } = await open();
  await page.route('**/me/data?*', (route) => route.fulfill({ status: 403, contentType: 'application/json', body: '{"error":"forbidden","message":"this link is not valid or has expired"}' }));
  await page.goto(dan.portal_url);
  await page.getByRole('alert').filter({ hasText: 'This link has expired' }).waitFor();
  assert.equal(await page.locator('#content').isHidden(), true);
  await context.close();
});
