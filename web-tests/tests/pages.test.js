// Every page at 375 px and 1280 px wide (and in the dark scheme at 375 px): a full-page
// screenshot under target/screenshots/<page>-<width>.png, no serious or critical axe-core
// violation, no sideways scrolling, no script errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newContext, newPage, demoApi, seriousViolations, screenshot, sleep, eventually } from '../lib/harness.js';

const WIDTHS = [375, 1280];
let server;
let browser;
let api;
let portal;
let held;
let code;

// Dan with one rewarded friend (Mara), one held (Sam, who paid at once) and one pending (Priya).
before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  api = demoApi(server.base);
  const dan = await api.link('c_dan_pages', { first_name: 'Dan', email: 'dan.pages@example.com' });
  code = dan.code;
  portal = dan.portal_url;
  const friend = (name, n) => ({
    customer_id: `c_${name}_pages`, email: `${name}.pages@example.com`, first_name: name,
    identity: { payment_fingerprint: `card_${name}`, device_id: `phone_${name}`, ip: `198.51.100.${n}` },
  });
  const clickedAt = Date.now();
  await api.signup({ ...friend('mara', 11), attribution_token: await api.click(code, 'whatsapp') });
  await api.signup({ ...friend('sam', 12), attribution_token: await api.click(code, 'sms') });
  await api.signup({ ...friend('priya', 13), attribution_token: await api.click(code) });
  await api.waitState('c_sam_pages', 'pending');
  await api.convert({ customer_id: 'c_sam_pages', order_id: 'o_sam', payment_fingerprint: 'card_sam', device_id: 'phone_sam' });
  held = await api.waitState('c_sam_pages', 'held');
  // Mara's first order comes after the screen's minimum time from click to order (5 s).
  await sleep(Math.max(0, clickedAt + 6000 - Date.now()));
  await api.convert({ customer_id: 'c_mara_pages', order_id: 'o_mara', payment_fingerprint: 'card_mara', device_id: 'phone_mara' });
  await api.waitState('c_mara_pages', 'rewarded');
  await eventually(async () => (await api.outbox()).some((m) => m.kind === 'thank_you_friend'), { timeout: 20000, what: 'the thank-yous' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Screenshots and checks one page at each width; ready(page) waits for its content. */
async function check(name, go, ready, { dark = true } = {}) {
  const problems = [];
  const variants = WIDTHS.map((width) => ({ width, scheme: 'light' }));
  if (dark) variants.push({ width: 375, scheme: 'dark' });
  for (const { width, scheme } of variants) {
    const context = await newContext(browser, { viewport: { width, height: 800 }, baseURL: server.base, colorScheme: scheme });
    const page = await newPage(context);
    await go(page);
    await ready(page);
    await page.evaluate(() => document.fonts.ready);
    const label = `${name}-${width}${scheme === 'dark' ? '-dark' : ''}`;
    await screenshot(page, label);
    for (const v of await seriousViolations(page)) problems.push(`${label}: ${v}`);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scrollWidth > width) problems.push(`${label}: scrolls sideways (${scrollWidth} px wide)`);
    for (const e of page.errors) problems.push(`${label}: script error: ${e}`);
    await context.close();
  }
  assert.deepEqual(problems, []);
}

test('the demo shop', async () => {
  await check('demo', (p) => p.goto('/demo'), async (p) => {
    await p.getByTestId('dan-get-link').click();
    await p.getByTestId('dan-code').filter({ hasText: /^\w{6}$/ }).waitFor();
    await p.locator('[data-testid="message"]').first().waitFor();
  });
});

test('the sign-up page a referral link lands on', async () => {
  await check('signup', (p) => p.goto(`/r/${code}`), async (p) => {
    await p.waitForURL(/\/demo\/signup\?rft=/);
    await p.getByTestId('referral-banner').waitFor();
  });
});

test('the referrer page', async () => {
  await check('me', (p) => p.goto(portal), async (p) => {
    await p.getByTestId('stat-earned').filter({ hasText: '£10.00' }).waitFor();
    await p.locator('#channels li').first().waitFor();
  });
});

test('the ops queue', async () => {
  const ops = await api.opsUrl();
  await check('ops', (p) => p.goto(ops), async (p) => {
    await p.locator(`[data-testid="case"][data-referral-id="${held.referral_id}"]`).waitFor();
  });
});

test('the ops decision pages (confirm, then decided)', async () => {
  const ops = await api.opsUrl();
  const data = await (await fetch(server.base + ops.replace('/ops?', '/ops/data?'))).json();
  const approve = data.held.find((c) => c.referral_id === held.referral_id).approve_url;
  await check('ops-confirm', (p) => p.goto(approve), (p) => p.locator('form[method="post"] button').waitFor());
  // Decide once, then look at the answer at each width.
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 }, baseURL: server.base });
  const page = await newPage(context);
  await page.goto(approve);
  await page.locator('form[method="post"] button').click();
  await page.locator('h1', { hasText: 'Decision recorded' }).waitFor();
  const problems = [];
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    await screenshot(page, `ops-decided-${width}`);
    for (const v of await seriousViolations(page)) problems.push(`ops-decided-${width}: ${v}`);
  }
  await context.close();
  assert.deepEqual(problems, []);
});

test('the page a bad link gets', async () => {
  await check('link-not-valid', (p) => p.goto(portal.replace('sig=', 'sig=x')), (p) => p.locator('h1', { hasText: 'Link not valid' }).waitFor());
});
