// The browser tests' harness: starts `rft-local serve` on a free loopback port with the demo
// settings (settings.local.toml pointed at that port), drives Debian's Chromium through
// playwright-core, injects axe-core, and talks to the demo backend from Node. Nothing here
// builds anything: the binary comes from RFT_LOCAL_BIN or target/debug/rft-local.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const screenshotDir = process.env.SCREENSHOT_DIR || path.join(repoRoot, 'target', 'screenshots');
const chromiumPath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const binary = process.env.RFT_LOCAL_BIN ? path.resolve(process.env.RFT_LOCAL_BIN) : path.join(repoRoot, 'target', 'debug', 'rft-local');
const settingsFile = process.env.RFT_SETTINGS || path.join(repoRoot, 'settings.local.toml');

// The flags the brief asks for: the network is closed, so keep Chromium from calling home.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A browser-like user agent for clicks sent from Node (link-preview bots log no click).
export const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** The stand-ins' credentials, as `make run-stripe` and `make run-shopify` give them. */
export const STANDIN_SECRETS = {
  stripe: { RFT_STRIPE_API_KEY: 'sk_test_standin_0123456789abcdef', RFT_STRIPE_WEBHOOK_SECRET: 'whsec_standin_0123456789abcdef' },
  shopify: { RFT_SHOPIFY_ADMIN_TOKEN: 'shpat_standin_0123456789abcdef', RFT_SHOPIFY_WEBHOOK_SECRET: 'shopify_standin_webhook_secret' },
};

/** Starts rft-local on a fresh data dir and a free port; resolves once /healthz answers.
 *  `settings` names another settings file in the repository (settings.stripe-demo.toml) and
 *  `env` adds to the environment (a connected store's credentials). */
export async function startServer({ settings: settingsName, env: extraEnv = {} } = {}) {
  if (!fs.existsSync(binary)) {
    throw new Error(`no rft-local binary at ${binary}: build it first (cargo build -p rft-local) or set RFT_LOCAL_BIN`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rft-web-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // The demo settings point links, the landing page and the store's reward endpoint at
  // 127.0.0.1:3000 (make run); the tests use their own port.
  const source = settingsName ? path.join(repoRoot, settingsName) : settingsFile;
  const settings = fs.readFileSync(source, 'utf8').replace(/http:\/\/(127\.0\.0\.1|localhost):3000/g, base);
  const settingsPath = path.join(dir, 'settings.toml');
  fs.writeFileSync(settingsPath, settings);
  const logPath = path.join(dir, 'server.log');
  const log = fs.openSync(logPath, 'a');
  const env = { ...process.env };
  // Secrets are generated into the data dir; never reuse a developer's.
  delete env.RFT_SIGNING_SECRET;
  delete env.RFT_OPS_SECRET;
  delete env.RFT_STORE_API_KEY;
  for (const name of ['RFT_STRIPE_API_KEY', 'RFT_STRIPE_WEBHOOK_SECRET', 'RFT_SHOPIFY_ADMIN_TOKEN', 'RFT_SHOPIFY_WEBHOOK_SECRET']) delete env[name];
  Object.assign(env, extraEnv);
  const child = spawn(binary, ['serve', '--settings', settingsPath, '--data', path.join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--outbox', path.join(dir, 'outbox')], {
    stdio: ['ignore', log, log],
    env,
  });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  // Never leave a server behind, even if the test process dies early.
  const reap = () => { if (!exited) child.kill('SIGKILL'); };
  process.once('exit', reap);
  const deadline = Date.now() + 20000;
  for (;;) {
    if (exited) throw new Error(`rft-local exited (${JSON.stringify(exited)}) before answering:\n${tail(logPath)}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rft-local did not answer /healthz within 20 s:\n${tail(logPath)}`);
    }
    await sleep(100);
  }
  return {
    base,
    port,
    dir,
    logPath,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 5000);
        if (!exited) await once(child, 'exit');
        clearTimeout(timer);
      }
      process.removeListener('exit', reap);
      fs.closeSync(log);
      if (!process.env.KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    },
    log: () => tail(logPath),
  };
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Debian's Chromium, headless, with the flags above. Playwright gives it a fresh temporary
 *  --user-data-dir of its own (and removes it on close); it refuses one passed in args. */
export async function launchBrowser() {
  if (!fs.existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (make web-test does it)`);
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/** A browser context that presents itself as ordinary desktop Chrome: the redirect counts
 *  "HeadlessChrome" as a link-preview bot and would log no click for it. */
export async function newContext(browser, options = {}) {
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
  const context = await browser.newContext({ userAgent, ...options });
  context.setDefaultTimeout(15000);
  return context;
}

/** A page that records uncaught errors, so a test can insist there were none. */
export async function newPage(context) {
  return track(await context.newPage());
}

/** Records a page's uncaught errors in page.errors (for pages a click opened, too). */
export function track(page) {
  if (!page.errors) {
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
  }
  return page;
}

/** The page's axe-core violations of impact serious or critical. */
export async function seriousViolations(page) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join(' | ')}`);
}

export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Polls fn until it returns a truthy value (returned), or throws with the last value. */
export async function eventually(fn, { timeout = 15000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(interval);
  }
}

/** The demo backend and the public routes, from Node (as the shop would call them). */
export function demoApi(base) {
  async function call(method, route, body) {
    const r = await fetch(base + route, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: r.status, body: json };
  }
  return {
    call,
    async link(customer, extra = {}) {
      const r = await call('POST', '/demo/api/link', { customer_id: customer, ...extra });
      if (r.status !== 201 && r.status !== 200) throw new Error(`link ${customer}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    /** A friend's click on a code: the token from the redirect's Location. */
    async click(code, channel) {
      const r = await fetch(`${base}/r/${code}${channel ? `?ch=${channel}` : ''}`, { redirect: 'manual', headers: { 'user-agent': BROWSER_UA } });
      const location = r.headers.get('location');
      if (r.status !== 302 || !location) throw new Error(`click ${code}: ${r.status}`);
      return new URL(location, base).searchParams.get('rft');
    },
    async signup(body) {
      const r = await call('POST', '/demo/api/signup', body);
      if (r.status !== 202 && r.status !== 200) throw new Error(`signup: ${r.status} ${JSON.stringify(r.body)}`);
    },
    async convert(body) {
      const r = await call('POST', '/demo/api/convert', { amount_minor: 3999, currency: 'GBP', ...body });
      if (r.status !== 202 && r.status !== 200) throw new Error(`convert: ${r.status} ${JSON.stringify(r.body)}`);
    },
    async referral(customer) {
      const r = await call('GET', `/demo/api/referral/${encodeURIComponent(customer)}`);
      return r.status === 200 ? r.body : null;
    },
    async waitState(customer, state, timeout = 15000) {
      return eventually(async () => {
        const ref = await this.referral(customer);
        return ref && ref.state === state ? ref : null;
      }, { timeout, what: `${customer} to be ${state}` });
    },
    async outbox() { return (await call('GET', '/demo/api/outbox')).body.messages; },
    async store() { return (await call('GET', '/demo/api/store')).body.fulfilled; },
    async opsUrl() { return (await call('GET', '/demo/api/ops')).body.ops_url; },
    /** The connected provider stand-in's calls that changed something. */
    async standin() { return (await call('GET', '/demo/api/standin')).body.calls; },
  };
}
