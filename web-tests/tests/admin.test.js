// The owner's console (/admin) in a real browser: signing in through the link found in the
// outbox, the figures against the stats API after a scripted programme (clicks, sign-ups, held,
// paid, parked, refunded), each action with its effect and its audit row, live updates without
// a reload, the referrer's friends on their own page, and every view at 375 px and 1280 px in
// light and dark with a screenshot, no serious axe-core violation and no sideways scrolling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, launchBrowser, newContext, newPage, demoApi, seriousViolations, screenshot, sleep, eventually, BROWSER_UA } from '../lib/harness.js';

const OWNER = 'referrals@freshbox.uk';
let server;
let browser;
let api;
let dan;
let sam;
let cookies;
const ids = {};

async function outboxLinks() {
  return (await api.outbox()).filter((m) => m.kind === 'console_sign_in');
}

async function stats(customer) {
  const r = await api.call('GET', `/demo/api/stats/${customer}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.stats;
}

async function refId(customer) {
  return (await api.referral(customer)).referral_id;
}

// Dan (a device on record) and Sam. Mara paid, then refunded; Kim's rewards parked (the store
// refuses them); Ann held (a disposable address) and converted while held; Pat held (Dan's
// device); Lee pending; Zed credited nobody.
before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  api = demoApi(server.base);
  dan = await api.link('c_dan_admin', { first_name: 'Dan', email: 'dan.admin@example.com', identity: { device_id: 'dev_dan_admin', ip: '203.0.113.60' } });
  sam = await api.link('c_sam_admin', { first_name: 'Sam' });
  const clickedAt = Date.now();
  const friend = (name, extra = {}) => ({ customer_id: `c_${name}_admin`, email: `${name}.admin@example.com`, first_name: name[0].toUpperCase() + name.slice(1), ...extra });
  await api.signup(friend('mara', { attribution_token: await api.click(dan.code, 'whatsapp'), identity: { payment_fingerprint: 'card_mara_admin', device_id: 'dev_mara_admin', ip: '198.51.100.61' } }));
  await api.signup({ ...friend('ann'), email: 'ann.admin@mailinator.com', attribution_token: await api.click(dan.code, 'whatsapp') });
  await api.signup(friend('pat', { attribution_token: await api.click(dan.code), identity: { device_id: 'dev_dan_admin' } }));
  await api.signup(friend('lee', { attribution_token: await api.click(dan.code, 'sms') }));
  await api.signup(friend('kim', { code: sam.code }));
  await api.signup(friend('zed'));
  for (const [who, state] of [['mara', 'pending'], ['ann', 'held'], ['pat', 'held'], ['lee', 'pending'], ['kim', 'pending']]) {
    await api.waitState(`c_${who}_admin`, state);
  }
  // First orders come after the screen's minimum time from click to order (5 s).
  await sleep(Math.max(0, clickedAt + 6000 - Date.now()));
  await api.convert({ customer_id: 'c_mara_admin', order_id: 'o_mara_admin' });
  const mara = await api.waitState('c_mara_admin', 'rewarded');
  // Both of Mara's rewards reach the store before it starts refusing.
  await eventually(async () => (await api.store()).filter((f) => f.idempotency_key.startsWith(mara.referral_id)).length === 2, { what: "Mara's rewards at the store" });
  await api.call('POST', '/demo/api/store/refuse', { times: 2 });
  await api.convert({ customer_id: 'c_kim_admin', order_id: 'o_kim_admin' });
  await api.waitState('c_kim_admin', 'rewarded');
  await eventually(async () => (await api.outbox()).filter((m) => m.kind === 'fulfilment_parked').length === 2, { what: "Kim's two parked rewards" });
  await api.convert({ customer_id: 'c_ann_admin', order_id: 'o_ann_admin' });
  await api.call('POST', '/demo/api/refund', { customer_id: 'c_mara_admin', order_id: 'o_mara_admin' });
  await eventually(async () => (await api.referral('c_mara_admin')).flags.includes('refund_review'), { what: "Mara's refund" });
  for (const who of ['mara', 'ann', 'pat', 'lee', 'kim']) ids[who] = await refId(`c_${who}_admin`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A context that carries the signed-in session (cookies from the first sign-in). */
async function signedIn(options = {}) {
  const context = await newContext(browser, { viewport: { width: 1280, height: 900 }, baseURL: server.base, ...options });
  if (cookies) await context.addCookies(cookies);
  return { context, page: await newPage(context) };
}

test('a team member signs in through the link found in the outbox', async () => {
  const context = await newContext(browser, { viewport: { width: 375, height: 800 }, baseURL: server.base });
  const page = await newPage(context);
  await page.goto('/admin');
  await page.getByLabel('Team email address').fill(OWNER);
  const before = (await outboxLinks()).length;
  await page.getByTestId('login-send').click();
  await page.getByTestId('login-status').filter({ hasText: 'Check your inbox' }).waitFor();
  const mail = await eventually(async () => (await outboxLinks()).slice(before).find((m) => m.to === OWNER), { what: 'the sign-in email' });
  const link = mail.body.match(/https?:\/\/\S+\/admin\/auth\?token=\S+/)[0];
  assert.ok(link.startsWith(server.base), link);
  await page.goto(link);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.base}/admin`);
  await page.getByTestId('whoami').filter({ hasText: OWNER }).waitFor();
  cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'rft_console');
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/admin');
  assert.ok(session.expires * 1000 - Date.now() > 11.9 * 3600 * 1000, 'twelve hours');
  // The same link a second time is refused.
  await page.goto(link);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('h1', { hasText: 'Sign-in link already used' }).waitFor();
  // Someone who is not on the team gets the same answer, and no mail.
  const other = await newPage(await newContext(browser, { baseURL: server.base }));
  await other.goto('/admin');
  await other.getByLabel('Team email address').fill('stranger@example.com');
  await other.getByTestId('login-send').click();
  await other.getByTestId('login-status').filter({ hasText: 'Check your inbox' }).waitFor();
  assert.equal((await outboxLinks()).filter((m) => m.to === 'stranger@example.com').length, 0);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the overview agrees with the stats API after the scripted programme', async () => {
  const { context, page } = await signedIn();
  await page.goto('/admin#/overview');
  const [d, s] = [await stats('c_dan_admin'), await stats('c_sam_admin')];
  const sum = (k) => String(d[k] + s[k]);
  await page.getByTestId('t-signups').filter({ hasText: sum('signups') }).waitFor();
  assert.equal(await page.getByTestId('t-clicks').textContent(), sum('clicks'));
  assert.equal(await page.getByTestId('t-conversions').textContent(), sum('conversions'));
  assert.equal(await page.getByTestId('t-held').textContent(), sum('held'));
  assert.equal(await page.getByTestId('t-rate').textContent(), `${Math.round(d.programme_conversion_rate * 1000) / 10}%`);
  assert.equal(await page.getByTestId('t-paid').textContent(), '£20.00', "Mara's two sides");
  assert.equal(await page.getByTestId('t-parked').textContent(), '£20.00', "Kim's two sides");
  assert.equal(await page.getByTestId('t-revenue').textContent(), '£119.97');
  assert.equal(await page.getByTestId('t-refunded').textContent(), '1');
  assert.equal(sum('signups'), '5');
  assert.equal(sum('held'), '2');
  const overview = await page.evaluate(async () => (await fetch('/admin/api/overview')).json());
  for (const row of overview.top_referrers) {
    const st = row.customer_id === 'c_dan_admin' ? d : s;
    for (const k of ['clicks', 'signups', 'conversions', 'rewarded']) assert.equal(row[k], st[k], `${k} of ${row.customer_id}`);
    assert.deepEqual(row.earned, st.earned);
  }
  const danRow = page.locator('[data-testid="top-referrers"] tr', { hasText: 'c_dan_admin' });
  assert.match(await danRow.textContent(), new RegExp(`${d.clicks}${d.signups}${d.conversions}`));
  await page.locator('[data-testid="channels"] tr[data-channel="whatsapp"]').waitFor();
  await page.locator('[data-period="monthly"]').click();
  assert.equal(await page.locator('#series tr').count(), 12);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('approving, rejecting and retiring take effect and are audited under the member', async () => {
  const { context, page } = await signedIn();
  page.on('dialog', (dialog) => dialog.accept());
  await page.goto('/admin#/queue');
  await page.getByTestId(`approve-${ids.ann}`).click();
  await page.getByTestId('message').filter({ hasText: 'Approved' }).waitFor();
  await api.waitState('c_ann_admin', 'rewarded');
  await page.goto(`/admin#/referrals/${ids.ann}`);
  await page.locator('#r-story li', { hasText: `Approved by ${OWNER}` }).waitFor();

  await page.goto(`/admin#/referrals/${ids.pat}`);
  await page.getByTestId('r-headline').filter({ hasText: 'Held' }).waitFor();
  assert.equal(await page.getByTestId('r-identity').textContent(), "The friend shares the referrer's device.");
  await page.getByTestId('r-reject').click();
  await api.waitState('c_pat_admin', 'rejected');
  await page.locator('#r-story li', { hasText: `Rejected by ${OWNER}` }).waitFor();
  await page.getByTestId('r-headline').filter({ hasText: 'Rejected' }).waitFor();

  await page.goto('/admin#/referrers/c_sam_admin');
  await page.getByTestId(`retire-${sam.code}`).click();
  await page.getByTestId('message').filter({ hasText: `Code ${sam.code} is retired` }).waitFor();
  await page.locator(`#rr-codes li[data-code="${sam.code}"][data-status="retired"]`, { hasText: `retired by ${OWNER}` }).waitFor();
  const landing = await fetch(`${server.base}/r/${sam.code}`, { redirect: 'manual', headers: { 'user-agent': BROWSER_UA } });
  assert.equal(landing.status, 302);
  assert.ok(!landing.headers.get('location').includes('rft='), 'a retired code credits nobody');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a referral's page tells its story, with the refund beside the decision", async () => {
  const { context, page } = await signedIn({ viewport: { width: 375, height: 800 } });
  await page.goto(`/admin#/referrals/${ids.mara}`);
  await page.getByTestId('r-refund').filter({ hasText: 'Order o_mara_admin was refunded' }).waitFor();
  const story = await page.getByTestId('r-story').textContent();
  assert.match(story, /Won: a click on the link on code \w{6} \(shared by whatsapp\)/);
  assert.match(story, /converted: both sides credited/);
  assert.match(story, /refunded .* after the reward: flagged for a person to review/);
  assert.equal(await page.locator('#r-ledger li[data-status="fulfilled"]').count(), 2);
  await page.goto(`/admin#/referrals/${ids.kim}`);
  await page.locator('#r-ledger li[data-status="parked"]').first().waitFor();
  await page.getByTestId('retry-referrer').click();
  await page.getByTestId('message').filter({ hasText: 'Retry queued' }).waitFor();
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('referrals are filtered, paged and exported as CSV', async () => {
  const { context, page } = await signedIn({ acceptDownloads: true });
  await page.goto('/admin#/referrals');
  await page.locator('#referrals li').first().waitFor();
  await page.getByLabel('State').selectOption('rewarded');
  await page.getByTestId('search').click();
  await page.waitForURL(/state=rewarded/);
  await eventually(async () => (await page.locator('#referrals li').count()) > 0 && (await page.locator('#referrals li:not([data-state="rewarded"])').count()) === 0, { what: 'only rewarded referrals' });
  await page.locator('#f-customer').fill('mara.admin@example.com');
  await page.getByTestId('search').click();
  await page.waitForURL(/customer=mara/);
  await eventually(async () => (await page.locator('#referrals li').count()) === 1, { what: 'one referral for the email' });
  await page.locator(`#referrals li[data-referral="${ids.mara}"]`).waitFor();
  await page.locator('#f-customer').fill('');
  await page.getByLabel('State').selectOption('');
  await page.getByTestId('search').click();
  await eventually(async () => (await page.locator('#referrals li').count()) >= 5, { what: 'every referral' });
  const total = await page.locator('#referrals li').count();
  // Pages of two: "Show more" until every referral is there, each once.
  await page.goto('/admin#/referrals?limit=2');
  await eventually(async () => (await page.locator('#referrals li').count()) === 2, { what: 'a first page of two' });
  while (await page.getByTestId('referrals-more').isVisible()) {
    const before = await page.locator('#referrals li').count();
    await page.getByTestId('referrals-more').click();
    await eventually(async () => (await page.locator('#referrals li').count()) > before || !(await page.getByTestId('referrals-more').isVisible()), { what: 'the next page' });
  }
  const shown = await page.locator('#referrals li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-referral')));
  assert.equal(shown.length, total);
  assert.equal(new Set(shown).size, total, 'no referral twice');
  await page.goto('/admin#/referrals');
  await eventually(async () => (await page.locator('#referrals li').count()) === total, { what: 'every referral' });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-referrals').click()]);
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.match(csv[0], /^referral_id,signed_up_at,state,method,code,referrer_id,referred_id/);
  assert.equal(csv.length - 1, await page.locator('#referrals li').count());
  assert.ok(!csv.join('\n').includes('@example.com'), 'no email in the export');
  const [ledger] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-ledger').click()]);
  const rows = fs.readFileSync(await ledger.path(), 'utf8').trim().split(/\r?\n/);
  assert.match(rows[0], /^referral_id,side,customer_id,amount_minor,amount,currency/);
  assert.ok(rows.length > 1, 'the ledger has rows');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the overview updates live when a friend signs up, without a reload', async () => {
  const { context, page } = await signedIn();
  await page.goto('/admin#/overview');
  await page.getByTestId('live').filter({ hasText: 'Live' }).waitFor();
  const before = Number(await page.getByTestId('t-signups').textContent());
  await page.evaluate(() => { window.__sameDocument = true; });
  await api.signup({ customer_id: 'c_ivy_admin', email: 'ivy.admin@example.com', attribution_token: await api.click(dan.code, 'email') });
  await page.getByTestId('t-signups').filter({ hasText: String(before + 1) }).waitFor({ timeout: 15000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the referrer's own page lists their friends and why each was not credited", async () => {
  const context = await newContext(browser, { viewport: { width: 375, height: 800 }, baseURL: server.base });
  const page = await newPage(context);
  await page.goto(dan.portal_url);
  await page.locator('#friends li').first().waitFor();
  const friend = (name) => page.locator('#friends li', { hasText: name });
  assert.match(await friend('Mara').textContent(), /Rewarded/);
  assert.match(await friend('Pat').textContent(), /Not credited: our team checked it and it didn.t qualify\./);
  assert.match(await friend('Lee').textContent(), /They've signed up: your reward comes when they place their first order/);
  assert.ok(!(await page.locator('#friends').textContent()).includes('@'), 'first names only');
  assert.deepEqual(page.errors, []);
  await context.close();
});

/** Every view at 375 and 1280 px, light and dark: screenshot, axe, no sideways scrolling. */
async function check(name, path, ready, { session = true } = {}) {
  const problems = [];
  for (const width of [375, 1280]) {
    for (const scheme of ['light', 'dark']) {
      const options = { viewport: { width, height: 800 }, colorScheme: scheme };
      const { context, page } = session ? await signedIn(options) : { context: await newContext(browser, { ...options, baseURL: server.base }) };
      const p = page || await newPage(context);
      await p.goto(path);
      await ready(p);
      await p.evaluate(() => document.fonts.ready);
      const label = `admin-${name}-${width}-${scheme}`;
      await screenshot(p, label);
      for (const v of await seriousViolations(p)) problems.push(`${label}: ${v}`);
      const scrollWidth = await p.evaluate(() => document.documentElement.scrollWidth);
      if (scrollWidth > width) problems.push(`${label}: scrolls sideways (${scrollWidth} px wide)`);
      for (const e of p.errors) problems.push(`${label}: script error: ${e}`);
      await context.close();
    }
  }
  assert.deepEqual(problems, []);
}

test('every view at 375 and 1280 px, light and dark', async () => {
  await check('sign-in', '/admin', (p) => p.getByTestId('login-form').waitFor(), { session: false });
  await check('overview', '/admin#/overview', (p) => p.getByTestId('t-signups').filter({ hasText: /^\d+$/ }).waitFor());
  await check('referrals', '/admin#/referrals', (p) => p.locator('#referrals li').first().waitFor());
  await check('referral', `/admin#/referrals/${ids.mara}`, (p) => p.getByTestId('r-refund').filter({ hasText: 'refunded' }).waitFor());
  await check('referrers', '/admin#/referrers', (p) => p.locator('#referrers tr[data-customer]').first().waitFor());
  await check('referrer', '/admin#/referrers/c_dan_admin', (p) => p.locator('#rr-referrals li').first().waitFor());
  await check('queue', '/admin#/queue', (p) => p.locator('#q-parked li').first().waitFor());
});

test('a sign-up that credited nobody is credited to a referrer by hand, and its order pays', async () => {
  await api.convert({ customer_id: 'c_zed_admin', order_id: 'o_zed_admin' });
  const { context, page } = await signedIn({ viewport: { width: 375, height: 800 } });
  await page.goto('/admin#/queue');
  const zedOrder = () => page.evaluate(async () => (await (await fetch('/admin/api/customers/c_zed_admin')).json()).first_order);
  await eventually(async () => (await zedOrder()) === 'o_zed_admin', { what: "Zed's order, paid nothing" });
  // Searching for Zed finds no referral: his own card says why, and offers the credit.
  await page.goto('/admin#/referrals?customer=c_zed_admin');
  const card = page.getByTestId('customer-card');
  await card.waitFor();
  assert.match(await page.getByTestId('customer-history').textContent(), /Signed up but credited nobody: no click, invite or typed code inside the window/);
  await page.getByTestId('customer-credit-note').filter({ hasText: 'their order o_zed_admin would then convert it' }).waitFor();
  await screenshot(page, 'admin-customer-unattributed-375');
  assert.deepEqual(await seriousViolations(page), []);
  await page.getByTestId('customer-credit').click();
  await page.waitForURL(/#\/queue$/);
  assert.equal(await page.getByLabel("Friend's customer id").inputValue(), 'c_zed_admin');
  const credit = async (friend, referrer, why) => {
    await page.getByLabel("Friend's customer id").fill(friend);
    await page.getByLabel("Referrer's customer id").fill(referrer);
    await page.getByLabel('Why').fill(why);
    await page.getByTestId('credit-send').click();
  };
  await credit('c_mara_admin', 'c_dan_admin', 'a second credit');
  await page.getByTestId('message').filter({ hasText: 'already referred' }).waitFor();
  await credit('c_zed_admin', 'c_dan_admin', 'Zed told us at the counter that Dan sent him');
  await page.getByTestId('message').filter({ hasText: `Credited to c_dan_admin through code ${dan.code}.` }).waitFor();
  const zed = await api.waitState('c_zed_admin', 'rewarded');
  assert.equal(zed.method, 'manual');
  await page.goto(`/admin#/referrals/${zed.referral_id}`);
  await page.locator('#r-story li', { hasText: `Credited by hand to c_dan_admin through code ${dan.code} by ${OWNER}` }).waitFor();
  assert.match(await page.getByTestId('r-story').textContent(), /Their reason: .Zed told us at the counter that Dan sent him./);
  assert.equal(await page.locator('#r-ledger li').count(), 2, 'both sides owed once');
  await screenshot(page, 'admin-credit-by-hand-375');
  assert.deepEqual(await seriousViolations(page), []);
  assert.deepEqual(page.errors, []);
  await context.close();
});
