// The demo shop end to end in a real browser: Dan gets his link and opens his page, Mara opens
// his link, signs up and buys a first box, both rewards reach the shop and both thank-yous the
// outbox; a self-referral is blocked; a too-quick friend is held and the operator approves it
// through the review queue's two-step links. Then the same shop connected to Stripe (a second
// server, as make run-stripe starts it): Mara pays at the Stripe checkout and both rewards land
// in the Stripe stand-in's records.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newContext, newPage, track, demoApi, eventually, seriousViolations, screenshot, STANDIN_SECRETS } from '../lib/harness.js';

let server;
let browser;
let context;
let demo;
let api;
let dan;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  api = demoApi(server.base);
  context = await newContext(browser, { viewport: { width: 1280, height: 900 }, baseURL: server.base });
  demo = await newPage(context);
  await demo.goto('/demo');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('Dan gets his link and opens his referrer page from the demo', async () => {
  await demo.getByTestId('dan-get-link').click();
  await demo.getByTestId('dan-code').filter({ hasText: /^\w{6}$/ }).waitFor();
  const code = (await demo.getByTestId('dan-code').textContent()).trim();
  assert.match(code, /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/);
  const url = await demo.getByTestId('dan-url').textContent();
  assert.equal(url, `${server.base}/r/${code}`);
  dan = { code, url };

  const [portal] = await Promise.all([context.waitForEvent('page').then(track), demo.getByTestId('dan-portal').click()]);
  await portal.waitForLoadState();
  assert.match(portal.url(), /\/me\?customer=c_dan_/);
  await portal.getByTestId('reward-you').filter({ hasText: '£10 off your next box' }).waitFor();
  assert.equal(await portal.getByTestId('reward-friend').textContent(), '£10 off your first box');
  assert.equal(await portal.getByTestId('link').inputValue(), url);
  assert.equal(await portal.getByTestId('stat-clicks').textContent(), '0');
  dan.portal = portal;
});

test('Mara opens Dan\'s link, signs up, buys a first box; both rewards and thank-yous land', async () => {
  assert.ok(dan, 'needs Dan\'s link');
  await demo.goto('/demo');
  await demo.getByTestId('mara-open').click();
  await demo.waitForURL(/\/demo\/signup\?/);
  const landing = new URL(demo.url());
  assert.ok(landing.searchParams.get('rft'), 'the redirect puts the token on the landing URL');
  assert.equal(landing.searchParams.get('utm_campaign'), dan.code);
  assert.equal(landing.searchParams.get('utm_source'), 'referral');
  assert.match(await demo.getByTestId('referral-banner').textContent(), /Dan sent you £10 off your first box/);

  await demo.getByLabel('First name').fill('Mara');
  const maraEmail = await demo.getByLabel('Email').inputValue();
  await demo.getByTestId('signup-submit').click();
  await demo.getByTestId('step-buy').waitFor();
  await demo.getByTestId('referral-state').filter({ hasText: 'pending' }).waitFor();
  const mara = (await demo.getByTestId('signup-status').textContent()).match(/(c_mara_\w+)/)[1];
  const pending = await api.referral(mara);
  assert.equal(pending.referrer_id.startsWith('c_dan_'), true);
  assert.equal(pending.method, 'token');

  // The screen holds a first order within 5 s of the click; the page says when it is safe.
  await demo.locator('[data-testid="timing"][data-ready="true"]').waitFor({ timeout: 12000 });
  await demo.getByTestId('buy').click();
  await demo.getByTestId('referral-state').filter({ hasText: 'rewarded' }).waitFor({ timeout: 20000 });
  assert.match(await demo.getByTestId('result-text').textContent(), /Rewarded!/);

  await demo.getByTestId('back-to-demo').click();
  await demo.waitForURL(/\/demo$/);
  const referral = await api.referral(mara);
  await demo.locator(`[data-testid="reward"][data-side="friend"][data-customer-id="${mara}"]`).waitFor({ timeout: 20000 });
  await demo.locator(`[data-testid="reward"][data-side="referrer"][data-customer-id="${referral.referrer_id}"]`).waitFor();
  await demo.locator('[data-testid="message"][data-kind="thank_you_referrer"]').first().waitFor({ timeout: 20000 });
  await demo.locator(`[data-testid="message"][data-kind="thank_you_friend"][data-to="${maraEmail}"]`).waitFor();
  await demo.locator(`[data-testid="friend"][data-customer-id="${mara}"] [data-testid="friend-state"]`).filter({ hasText: 'rewarded' }).waitFor();

  // Exactly once: one reward per side for this referral at the shop.
  const store = (await api.store()).filter((f) => f.referral_id === referral.referral_id);
  assert.deepEqual(store.map((f) => f.side).sort(), ['friend', 'referrer']);
  assert.deepEqual(store.map((f) => f.idempotency_key).sort(), [`${referral.referral_id}:friend`, `${referral.referral_id}:referrer`]);

  // Dan's page shows the new numbers on its next refresh.
  await dan.portal.reload();
  await dan.portal.getByTestId('stat-conversions').filter({ hasText: /^1$/ }).waitFor();
  assert.equal(await dan.portal.getByTestId('stat-signups').textContent(), '1');
  assert.equal(await dan.portal.getByTestId('stat-earned').textContent(), '£10.00');
  assert.match(await dan.portal.getByTestId('ladder-position').textContent(), /had 1 successful referral/);
  assert.deepEqual([...demo.errors, ...dan.portal.errors], []);
});

test('a self-referral is blocked', async () => {
  assert.ok(dan, 'needs Dan\'s link');
  await demo.goto('/demo');
  await demo.getByTestId('self-referral').click();
  await demo.getByTestId('self-result').filter({ hasText: /^Blocked/ }).waitFor({ timeout: 20000 });
  assert.match(await demo.getByTestId('self-result').textContent(), /same card and device/);
  const row = demo.locator('[data-testid="friend"][data-kind="self"]');
  await row.getByTestId('friend-state').filter({ hasText: 'blocked' }).waitFor();
  const customer = await row.getAttribute('data-customer-id');
  const referral = await api.referral(customer);
  assert.equal(referral.state, 'blocked');
  assert.deepEqual(referral.reasons, ['same_payment_and_device']);
});

test('a too-quick friend is held, and the operator approves it from the review queue', async () => {
  assert.ok(dan, 'needs Dan\'s link');
  await demo.goto('/demo');
  await demo.getByTestId('quick-friend').click();
  await demo.getByTestId('quick-result').filter({ hasText: /^Held/ }).waitFor({ timeout: 20000 });
  const row = demo.locator('[data-testid="friend"][data-kind="quick"]');
  const friend = await row.getAttribute('data-customer-id');
  const held = await api.waitState(friend, 'held');
  assert.deepEqual(held.reasons, ['quick_conversion']);
  await demo.locator('[data-testid="message"][data-kind="hold_review"]').first().waitFor();

  const [ops] = await Promise.all([context.waitForEvent('page').then(track), demo.getByTestId('ops-open').click()]);
  await ops.waitForLoadState();
  const queueUrl = ops.url();
  assert.match(queueUrl, /\/ops\?exp=\d+&sig=/);
  const card = ops.locator(`[data-testid="case"][data-referred-id="${friend}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /quick conversion/);
  assert.match(await card.textContent(), /Order o_/);

  // Step one: the link shows the case and a button, and changes nothing.
  await card.getByTestId('approve').click();
  await ops.waitForURL(/\/ops\/referrals\/[^/]+\/approve\?/);
  assert.equal(await ops.locator('h1').textContent(), 'Approve referral?');
  assert.equal((await api.referral(friend)).state, 'held', 'opening the link decides nothing');

  // Step two: the button decides.
  await ops.locator('form[method="post"] button[type="submit"]').click();
  await ops.locator('h1', { hasText: 'Decision recorded' }).waitFor();
  const paid = await api.waitState(friend, 'rewarded', 20000);
  await eventually(async () => (await api.store()).filter((f) => f.referral_id === paid.referral_id).length === 2, { what: 'both rewards at the shop' });

  // The queue no longer lists it; the demo shows the friend rewarded.
  await ops.goto(queueUrl);
  await ops.getByTestId('held-count').filter({ hasText: /^0$/ }).waitFor();
  await row.getByTestId('friend-state').filter({ hasText: 'rewarded' }).waitFor();
  assert.deepEqual([...demo.errors, ...ops.errors], []);
});

test('connected to Stripe: Mara pays at the Stripe checkout and both rewards land in the stand-in\'s records', async () => {
  const stripe = await startServer({ settings: 'settings.stripe-demo.toml', env: STANDIN_SECRETS.stripe });
  const ctx = await newContext(browser, { viewport: { width: 1280, height: 900 }, baseURL: stripe.base });
  try {
    const stripeApi = demoApi(stripe.base);
    const page = await newPage(ctx);
    await page.goto('/demo');
    assert.match(await page.getByTestId('store-kind').textContent(), /connected to Stripe/);
    assert.equal(await page.getByTestId('role-cheat').isHidden(), true, 'the generic-API games are hidden');
    await page.getByTestId('dan-get-link').click();
    await page.getByTestId('dan-code').filter({ hasText: /^\w{6}$/ }).waitFor();
    const code = (await page.getByTestId('dan-code').textContent()).trim();
    // Minting made Mara's promotion code at Stripe: the panel shows it before anyone pays.
    await page.locator('[data-testid="standin-call"][data-what="promotion code"]').waitFor();
    assert.equal(await page.locator('[data-testid="standin-call"][data-what="promotion code"] [data-testid="standin-key"]').textContent(), `rft-mint:${code}:promotion_code`);

    assert.match(await page.getByTestId('mara-open').textContent(), /Stripe checkout/);
    await page.getByTestId('mara-open').click();
    await page.waitForURL(/\/demo\/checkout\?/);
    const landing = new URL(page.url());
    assert.ok(landing.searchParams.get('client_reference_id'), 'the Payment Link carries the token');
    assert.equal(await page.getByTestId('checkout-code').inputValue(), code);
    assert.deepEqual(await seriousViolations(page), []);
    await page.locator('[data-testid="timing"][data-ready="true"]').waitFor({ timeout: 12000 });
    await page.getByTestId('checkout-pay').click();
    await page.getByTestId('referral-state').filter({ hasText: 'rewarded' }).waitFor({ timeout: 20000 });
    const mara = (await page.getByTestId('checkout-status').textContent()).match(/\((\S+)\)/)[1];
    const referral = await stripeApi.referral(mara);
    assert.equal(referral.state, 'rewarded');
    assert.match(referral.referrer_id, /^cus_dan/);

    await page.getByTestId('back-to-demo').click();
    await page.waitForURL(/\/demo$/);
    const credit = page.locator('[data-testid="standin-call"][data-side="referrer"][data-what="balance credit"]');
    await credit.waitFor({ timeout: 20000 });
    assert.equal(await credit.getByTestId('standin-key').textContent(), `${referral.referral_id}:referrer`);
    assert.match(await credit.textContent(), new RegExp(`POST /v1/customers/${referral.referrer_id}/balance_transactions`));
    assert.match(await credit.getByTestId('standin-detail').textContent(), /amount=-1000/);
    await page.locator('[data-testid="standin-call"][data-side="friend"][data-what="promotion code"]').waitFor();
    await page.locator(`[data-testid="friend"][data-customer-id="${mara}"] [data-testid="friend-state"]`).filter({ hasText: 'rewarded' }).waitFor();

    // Once each at the stand-in: one credit for Dan, one promotion code (Mara's, used at checkout).
    const calls = await stripeApi.standin();
    assert.deepEqual(calls.filter((c) => c.what === 'balance credit').map((c) => c.idempotency_key), [`${referral.referral_id}:referrer`]);
    assert.equal(calls.filter((c) => c.what === 'promotion code').length, 1);
    assert.deepEqual(page.errors, []);
  } finally {
    await ctx.close();
    await stripe.stop();
  }
});

test('connected to Shopify: Mara places a Shopify order with the discount already in her cart and Dan\'s store credit lands', async () => {
  const shopify = await startServer({ settings: 'settings.shopify-demo.toml', env: STANDIN_SECRETS.shopify });
  const ctx = await newContext(browser, { viewport: { width: 375, height: 800 }, baseURL: shopify.base });
  try {
    const shopifyApi = demoApi(shopify.base);
    const page = await newPage(ctx);
    await page.goto('/demo');
    assert.match(await page.getByTestId('store-kind').textContent(), /connected to Shopify/);
    await page.getByTestId('dan-get-link').click();
    await page.getByTestId('dan-code').filter({ hasText: /^\w{6}$/ }).waitFor();
    const code = (await page.getByTestId('dan-code').textContent()).trim();
    // Minting made the code a Shopify discount code: the panel shows it before anyone orders.
    await page.locator('[data-testid="standin-call"][data-what="discount code"]').waitFor();

    assert.match(await page.getByTestId('mara-open').textContent(), /Shopify order/);
    await page.getByTestId('mara-open').click();
    // Through the storefront's /discount/<CODE> path, which puts the code in the cart.
    await page.waitForURL(/\/demo\/checkout\?/);
    assert.ok(new URL(page.url()).searchParams.get('rft'), 'the landing page carries the token');
    assert.equal(await page.getByTestId('checkout-code').inputValue(), code);
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, 'demo-shopify-checkout-375');
    await page.locator('[data-testid="timing"][data-ready="true"]').waitFor({ timeout: 12000 });
    await page.getByTestId('checkout-pay').click();
    await page.getByTestId('referral-state').filter({ hasText: 'rewarded' }).waitFor({ timeout: 20000 });
    const mara = (await page.getByTestId('checkout-status').textContent()).match(/\((\S+)\)/)[1];
    const referral = await shopifyApi.referral(mara);
    assert.equal(referral.state, 'rewarded');
    assert.equal(referral.method, 'token', 'the click is the touch; the code came with the link');

    await page.getByTestId('back-to-demo').click();
    await page.waitForURL(/\/demo$/);
    const credit = page.locator('[data-testid="standin-call"][data-side="referrer"][data-what="store credit"]');
    await credit.waitFor({ timeout: 20000 });
    assert.match(await credit.getByTestId('standin-detail').textContent(), /10\.00/);
    await page.locator(`[data-testid="friend"][data-customer-id="${mara}"] [data-testid="friend-state"]`).filter({ hasText: 'rewarded' }).waitFor();

    // Once each at the stand-in: one store credit for Dan, one discount code (Mara's, in her cart).
    const calls = await shopifyApi.standin();
    const credits = calls.filter((c) => c.what === 'store credit');
    assert.equal(credits.length, 1);
    assert.equal(credits[0].variables.id, `gid://shopify/Customer/${referral.referrer_id}`);
    assert.equal(calls.filter((c) => c.what === 'discount code').length, 1);
    assert.deepEqual(page.errors, []);
  } finally {
    await ctx.close();
    await shopify.stop();
  }
});
