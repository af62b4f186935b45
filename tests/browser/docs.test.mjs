// docs.test.mjs - the Swagger UI page at /docs, as a person sees it, in headless Chromium.
//
// Run (after `npm ci` in api/ and a build of the logger):
//   cd api && LOGGER_BIN=../build/bin/event-logger npm run test:browser
//
// Starts the real logger (as the contract test does), opens /docs in Debian's
// Chromium through playwright-core (never a downloaded browser), checks that every
// operation of api/openapi.yaml is listed (the batch routes at their colon paths,
// the status batch with its lock), then uses "Try it out" on POST /events
// and expects the 201 in the page. Saves two screenshots:
//   tests/browser/out/docs.png       the executed POST /events with its 201 response
//   tests/browser/out/docs-full.png  the whole page, every operation listed (for the README)
// Fails if the page loads anything from another host (it must work offline).
// Env: LOGGER_BIN, DOCS_DIR (as in the contract test), CHROMIUM (default /usr/bin/chromium).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { docsDir, loadSpec, request, requireFromApi, SpecChecker, startLogger } from '../contract/harness.mjs';

const { chromium } = requireFromApi('playwright-core');

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'out');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('Swagger UI at /docs lists every operation and runs POST /events', { timeout: 90000 }, async (t) => {
    const t0 = Date.now();
    const step = (what) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    assert.ok(existsSync(executablePath), `no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
    const spec = loadSpec();
    const checker = new SpecChecker(spec);
    // Tear down in order: browser first (it holds keep-alive connections), then the logger.
    let docs, logger, profile, context;
    t.after(async () => {
        if (context) await context.close().catch(() => {});
        if (profile) rmSync(profile, { recursive: true, force: true });
        if (logger) {
            const r = await logger.stop();
            t.diagnostic(`logger stopped: ${JSON.stringify(r)}`);
        }
        if (docs) docs.cleanup();
    });
    docs = docsDir();
    logger = await startLogger({ token: 'secret', docs: docs.dir });

    step('logger started');
    profile = mkdtempSync(path.join(tmpdir(), 'enp-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
        executablePath, args: ARGS, headless: true, viewport: { width: 1280, height: 900 }, timeout: 30000,
    });
    step('Chromium started');
    context.setDefaultTimeout(15000);

    // Everything must come from the logger: refuse, and remember, anything else.
    const foreign = [];
    await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(logger.baseUrl + '/') || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
        foreign.push(url);
        return route.abort();
    });
    const page = context.pages()[0] ?? await context.newPage();
    const pageErrors = [];
    const failed = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('response', (res) => { if (res.status() >= 400) failed.push(`${res.status()} ${res.url()}`); });

    const resp = await page.goto(`${logger.baseUrl}/docs`, { waitUntil: 'load' });
    assert.equal(resp.status(), 200, 'GET /docs');
    await page.waitForSelector('.swagger-ui .info .title');
    assert.match(await page.textContent('.swagger-ui .info .title'), new RegExp(spec.info.title));

    step('page rendered');
    // Every operation in the spec has its block, with its method and path.
    const ops = checker.operations();
    await page.waitForFunction((n) => document.querySelectorAll('.opblock').length >= n, ops.length);
    for (const { path: p, method, op } of ops) {
        const id = `operations-${op.tags[0]}-${op.operationId}`;
        const block = page.locator(`[id="${id}"]`);
        assert.equal(await block.count(), 1, `no block #${id} for ${method.toUpperCase()} ${p}`);
        assert.equal((await block.locator('.opblock-summary-method').first().textContent()).trim(), method.toUpperCase(), id);
        assert.equal(await block.locator('.opblock-summary-path').first().getAttribute('data-path'), p, id);
    }
    assert.equal(await page.locator('.opblock').count(), ops.length, 'the page lists operations the spec does not have');
    // The bearer token can be entered through "Authorize", and PATCH shows its lock.
    assert.equal(await page.locator('.swagger-ui .auth-wrapper .authorize').count(), 1, 'no Authorize button');
    assert.equal(await page.locator('[id="operations-events-updateEventStatus"] .authorization__btn').count(), 1,
        'PATCH /events/{event_id} shows no lock');
    // The batch routes are listed under their colon paths; the status batch
    // has PATCH's lock, the bulk create (open, like POST /events) none.
    for (const [id, p, locks] of [['batchCreateEvents', '/events:batchCreate', 0],
        ['batchUpdateEventStatus', '/events:batchUpdateStatus', 1]]) {
        const block = page.locator(`[id="operations-events-${id}"]`);
        assert.equal(await block.count(), 1, `${p} is not listed`);
        assert.equal(await block.locator('.opblock-summary-path').first().getAttribute('data-path'), p);
        assert.equal(await block.locator('.authorization__btn').count(), locks, `${p}: ${locks} lock(s) expected`);
    }

    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, 'docs-full.png'), fullPage: true });

    step('operations checked, overview saved');
    // Try it out: POST /events with a valid body, expect 201 on the page.
    const post = page.locator('[id="operations-events-createEvent"]');
    await post.locator('.opblock-summary').first().click();
    await post.locator('.try-out__btn').click();
    const user = `browser-${randomUUID().slice(0, 8)}`;
    const body = JSON.stringify({ user_id: user, description: 'Sent from Swagger UI' }, null, 2);
    await post.locator('textarea.body-param__text').fill(body);
    await post.locator('button.execute').click();
    const status = post.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    assert.equal((await status.textContent()).trim(), '201', 'the live response status in the page');
    const shown = await post.locator('.live-responses-table tbody .response-col_description').first().textContent();
    assert.match(shown, /"event_id"/, 'the page shows the created event');
    assert.match(shown, new RegExp(user));
    await post.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, 'docs.png') });

    step('POST /events executed from the page');
    // The page really created it.
    const listed = await request(logger.baseUrl, 'GET', `/events?user_id=${user}`);
    const list = checker.check(listed, '/events', 'get');
    assert.equal(list.items.length, 1, `events for ${user}: ${listed.text}`);
    assert.equal(list.items[0].description, 'Sent from Swagger UI');

    assert.deepEqual(foreign, [], 'the page tried to load from another host');
    assert.deepEqual(pageErrors, [], 'JavaScript errors in the page');
    assert.deepEqual(failed, [], 'requests from the page that failed');
});
