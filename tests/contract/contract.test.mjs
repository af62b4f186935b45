// contract.test.mjs - the live event-logger against api/openapi.yaml and README's API rules.
//
// Run (after `npm ci` in api/ and a build of the logger):
//   cd api && LOGGER_BIN=../build/bin/event-logger npm run test:contract
// or from anywhere:
//   LOGGER_BIN=build/bin/event-logger node --test tests/contract/contract.test.mjs
//
// Starts the real logger on free loopback ports with --status-token secret and a
// --broker endpoint where nothing listens (so the broker link stays down), and
// holds every live response to the spec: documented status, Content-Type,
// required headers, and a body that validates against the response's schema.
// One more logger gets the real queue-broker on its broker port, to see /readyz
// turn 200 and events turn queued.
// Env: LOGGER_BIN (default build/bin/event-logger), BROKER_BIN (default
// queue-broker beside LOGGER_BIN), DOCS_DIR (default: a fresh directory made by
// api/build-docs.sh).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { docsDir, freePort, loadSpec, prismStats, rawConnection, rawRequest, repoRoot, request, SpecChecker, spawnBroker, specPath, startLogger, stopProcess, YAML } from './harness.mjs';

const TOKEN = 'secret';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const JSON_CT = { 'Content-Type': 'application/json' };
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_BODY = 16384;

const spec = loadSpec();
const checker = new SpecChecker(spec);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let logger;
let docs;
// Through Prism, unless opts.direct: for bodies Prism cannot carry unchanged
// (see harness.mjs).
const call = (method, p, opts = {}) => request(opts.direct ? logger.directUrl : logger.baseUrl, method, p, opts);
const uniqueUser = (tag) => `contract-${tag}-${randomUUID().slice(0, 8)}`;

// POST /events and check the 201 fully; returns the event.
async function create (user_id, description = 'contract test event') {
    const res = await call('POST', '/events', { body: { user_id, description } });
    const ev = checker.check(res, '/events', 'post');
    assert.equal(res.status, 201, res.text);
    return ev;
}

// Send a body to POST /events or PATCH /events/{id} and expect a problem with this status.
async function expectProblem (method, p, template, status, opts) {
    const res = await call(method, p, opts);
    const body = checker.check(res, template, method);
    assert.equal(res.status, status, `${method} ${p}: expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
    return { res, body };
}

// 422 with exactly these fields named in errors[].
async function expect422 (method, p, template, body, fields, headers = {}) {
    const { body: problem } = await expectProblem(method, p, template, 422, {
        headers: { ...JSON_CT, ...headers }, body,
    });
    const named = [...new Set(problem.errors.map((e) => e.field))].sort();
    assert.deepEqual(named, [...fields].sort(),
        `${method} ${p} ${typeof body === 'string' ? body.slice(0, 80) : '<bytes>'}: errors[] fields`);
    for (const e of problem.errors) assert.ok(e.message.length > 0, 'errors[].message is empty');
    return problem;
}

// True when JSON.parse takes text: Prism answers other bodies itself, so
// they go direct (see harness.mjs).
function isJson (text) {
    try { JSON.parse(text); return true; } catch { return false; }
}

// Split the Allow header into a set of upper-case methods.
function allowSet (res) {
    const allow = res.headers.allow;
    assert.ok(allow, `405 without Allow header: ${res.text}`);
    return new Set(allow.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));
}

describe('event-logger HTTP contract', { timeout: 120000 }, () => {
    before(async () => {
        docs = docsDir();
        logger = await startLogger({ token: TOKEN, docs: docs.dir, prism: true });
    });

    after(async () => {
        if (logger) await logger.stop();
        if (docs) docs.cleanup();
    });

    describe('operations', () => {
        it('GET /healthz answers 200 {"status":"ok"}', async () => {
            const res = await call('GET', '/healthz');
            const body = checker.check(res, '/healthz', 'get');
            assert.equal(res.status, 200);
            assert.equal(body.status, 'ok');
        });

        it('GET /readyz answers 503 while the broker link is down, saying so', async () => {
            // Nothing listens on the broker port for the whole run.
            const res = await call('GET', '/readyz');
            const body = checker.check(res, '/readyz', 'get');
            assert.equal(res.status, 503, `readyz with no broker: ${res.text}`);
            assert.match(body.detail, /broker/i, 'detail should say the broker link is down');
        });

        it('GET /metrics is Prometheus text with the contract\'s names', async () => {
            await create(uniqueUser('metrics'));
            await call('GET', '/events/00000000-0000-4000-8000-000000000000');
            const res = await call('GET', '/metrics');
            const text = checker.check(res, '/metrics', 'get');
            assert.equal(res.status, 200);
            const samples = new Map();
            for (const line of text.split('\n')) {
                if (line === '' || line.startsWith('#')) {
                    if (line.startsWith('# TYPE ')) {
                        assert.match(line, /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/, line);
                    }
                    continue;
                }
                const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$/.exec(line);
                assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
                if (!samples.has(m[1])) samples.set(m[1], []);
                samples.get(m[1]).push({ labels: m[2] || '', value: Number(m[3]) });
            }
            for (const name of ['events_created_total', 'events_processed_total', 'events_failed_total',
                'events_redelivered_total', 'events_in_store', 'http_requests_total',
                'http_request_duration_seconds_bucket', 'http_request_duration_seconds_sum',
                'http_request_duration_seconds_count']) {
                assert.ok(samples.has(name), `metric ${name} missing`);
            }
            assert.ok(samples.get('events_created_total')[0].value >= 1, 'events_created_total counts the POST');
            assert.ok(samples.get('events_in_store').some((s) => /status="pending"/.test(s.labels)),
                'events_in_store has a status="pending" series');
            const reqs = samples.get('http_requests_total');
            for (const s of reqs) {
                for (const l of ['method', 'route', 'code']) assert.match(s.labels, new RegExp(`${l}="`), `http_requests_total ${s.labels} lacks ${l}`);
                assert.doesNotMatch(s.labels, /[0-9a-f]{8}-[0-9a-f]{4}-/, `route label holds a raw id: ${s.labels}`);
            }
            assert.ok(reqs.some((s) => /method="POST"/.test(s.labels) && /code="201"/.test(s.labels)),
                'http_requests_total counts POST 201');
            assert.ok(samples.get('http_request_duration_seconds_bucket').some((s) => /le="\+Inf"/.test(s.labels)),
                'histogram has an le="+Inf" bucket');
        });

        it('GET /openapi.yaml serves this very document', async () => {
            const res = await call('GET', '/openapi.yaml');
            const text = checker.check(res, '/openapi.yaml', 'get');
            assert.equal(res.status, 200);
            assert.deepEqual(YAML.parse(text), YAML.parse(readFileSync(specPath, 'utf8')),
                'the served spec differs from api/openapi.yaml');
        });

        it('GET /docs serves the Swagger UI page', async () => {
            const res = await call('GET', '/docs');
            const html = checker.check(res, '/docs', 'get');
            assert.equal(res.status, 200);
            assert.match(html, /swagger-ui-bundle\.js/);
            assert.match(html, /\/openapi\.yaml/);
        });

        it('GET /docs/ serves the same page, and /docs/{file} its files', async () => {
            // Direct: /docs/ cannot be a path of the spec (Redocly's
            // no-path-trailing-slash), so Prism knows no route for it
            const res = await call('GET', '/docs/', { direct: true });
            assert.equal(res.status, 200, `GET /docs/: ${res.text.slice(0, 200)}`);
            assert.match(String(res.headers['content-type']), /^text\/html/, 'GET /docs/ Content-Type');
            assert.match(res.text, /swagger-ui-bundle\.js/);
            const assets = [
                ['/docs/swagger-ui-bundle.js', /javascript/],
                ['/docs/swagger-ui-standalone-preset.js', /javascript/],
                ['/docs/swagger-ui.css', /^text\/css/],
                ['/docs/favicon-32x32.png', /^image\/png/],
            ];
            for (const [p, type] of assets) {
                const r = await call('GET', p);
                checker.check(r, '/docs/{file}', 'get', `GET ${p}`);
                assert.equal(r.status, 200, `GET ${p}: ${r.status}`);
                assert.match(String(r.headers['content-type']), type, `GET ${p} Content-Type`);
                assert.ok(r.body.length > 100, `GET ${p} is nearly empty`);
            }
        });

        it('GET /docs/{file} never serves a file outside the docs directory', async () => {
            for (const p of ['/docs/no-such-file.js', '/docs/../../../../../../etc/passwd',
                '/docs/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd', '/docs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
                '/docs/.%2e/.%2e/.%2e/.%2e/.%2e/etc/passwd', '/docs//etc/passwd', '/docs/%2fetc%2fpasswd']) {
                const res = await call('GET', p);
                if (p === '/docs/no-such-file.js') checker.check(res, '/docs/{file}', 'get', `GET ${p}`);
                assert.doesNotMatch(res.text, /root:.*:0:0:/, `GET ${p} leaked /etc/passwd`);
                assert.ok([400, 404].includes(res.status), `GET ${p}: expected 404 (or 400), got ${res.status}`);
                assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `GET ${p} Content-Type`);
            }
        });
    });

    describe('POST /events', () => {
        it('201 with Location /events/{event_id} and the stored event', async () => {
            const before = Date.now();
            const res = await call('POST', '/events', { body: { user_id: 'user-42', description: 'Your order 1234 has shipped' } });
            const ev = checker.check(res, '/events', 'post');
            assert.equal(res.status, 201, res.text);
            assert.match(ev.event_id, UUID_V4, 'event_id is a v4 UUID');
            assert.equal(res.headers.location, `/events/${ev.event_id}`);
            assert.equal(ev.user_id, 'user-42');
            assert.equal(ev.description, 'Your order 1234 has shipped');
            assert.equal(ev.status, 'pending', 'a new event is pending');
            assert.equal(ev.attempts, 0, 'a new event has 0 attempts');
            assert.equal(ev.created_at, ev.updated_at);
            const t = Date.parse(ev.created_at);
            assert.ok(t >= before - 2000 && t <= Date.now() + 2000, `created_at ${ev.created_at} is not now`);

            const got = await call('GET', res.headers.location);
            assert.deepEqual(checker.check(got, '/events/{event_id}', 'get'), ev);
        });

        it('accepts Content-Type with a charset parameter', async () => {
            const res = await call('POST', '/events', {
                headers: { 'Content-Type': 'application/json; charset=utf-8' },
                body: JSON.stringify({ user_id: 'u', description: 'd' }),
            });
            checker.check(res, '/events', 'post');
            assert.equal(res.status, 201, res.text);
        });

        it('keeps non-ASCII text exactly, and escaped JSON strings decoded', async () => {
            const user = 'müller-日本-🚚';
            const ev = await create(user, 'Ihre Bestellung ist unterwegs 🚚 "quoted" \\ back\nslash');
            assert.equal(ev.user_id, user);
            assert.equal(ev.description, 'Ihre Bestellung ist unterwegs 🚚 "quoted" \\ back\nslash');
            const res = await call('POST', '/events', { headers: JSON_CT, body: '{"user_id":"\\u00e9t\\u00e9","description":"\\ud83d\\ude9a"}' });
            const ev2 = checker.check(res, '/events', 'post');
            assert.equal(res.status, 201, res.text);
            assert.equal(ev2.user_id, 'été');
            assert.equal(ev2.description, '🚚');
        });

        it('accepts the longest values: user_id 256 bytes, description 4096 bytes', async () => {
            const ev = await create('u'.repeat(256), 'd'.repeat(4096));
            assert.equal(ev.user_id.length, 256);
            assert.equal(ev.description.length, 4096);
            // 128 two-byte characters = 256 bytes: still fine.
            const ev2 = await create('é'.repeat(128), 'é'.repeat(2048));
            assert.equal(ev2.user_id, 'é'.repeat(128));
        });

        it('400 for a body that is not JSON or not an object', async () => {
            for (const body of ['{"user_id":', '', 'nope', '[]', '[{"user_id":"u","description":"d"}]',
                '"text"', '42', 'null', 'true', '{"user_id":"u","description":"d"} trailing']) {
                // Direct: Prism answers malformed JSON itself
                const { body: p } = await expectProblem('POST', '/events', '/events', 400, { headers: JSON_CT, body, direct: true });
                assert.ok(p.detail.length > 0);
            }
        });

        it('422 naming each field for missing, wrong-type, empty and over-long values', async () => {
            const P = ['POST', '/events', '/events'];
            await expect422(...P, '{}', ['user_id', 'description']);
            await expect422(...P, '{"description":"d"}', ['user_id']);
            await expect422(...P, '{"user_id":"u"}', ['description']);
            await expect422(...P, '{"user_id":42,"description":"d"}', ['user_id']);
            await expect422(...P, '{"user_id":"u","description":null}', ['description']);
            await expect422(...P, '{"user_id":["u"],"description":{"a":1}}', ['user_id', 'description']);
            await expect422(...P, '{"user_id":true,"description":"d"}', ['user_id']);
            await expect422(...P, '{"user_id":"","description":"d"}', ['user_id']);
            await expect422(...P, '{"user_id":"u","description":""}', ['description']);
            await expect422(...P, JSON.stringify({ user_id: 'u'.repeat(257), description: 'd' }), ['user_id']);
            await expect422(...P, JSON.stringify({ user_id: 'u', description: 'd'.repeat(4097) }), ['description']);
            // Lengths are bytes: 129 x "é" is 258 bytes of UTF-8.
            await expect422(...P, JSON.stringify({ user_id: 'é'.repeat(129), description: 'd' }), ['user_id']);
            await expect422(...P, JSON.stringify({ user_id: 'u', description: '€'.repeat(1366) }), ['description']);
            // Valid JSON jansson cannot hold as given is still a field error, not 400
            await expect422(...P, '{"user_id":"a\\u0000","description":"d"}', ['user_id']);
            await expect422(...P, '{"user_id":1e999,"description":"d"}', ['user_id']);
            await expect422(...P, '{"user_id":"u","description":-1e999}', ['description']);
            await expect422(...P, '{"user_id":"u","description":"d","n\\u0000":1}', ['n\u2400']);
        });

        it('422 naming an unknown field', async () => {
            await expect422('POST', '/events', '/events', '{"user_id":"u","description":"d","priority":1}', ['priority']);
            await expect422('POST', '/events', '/events', '{"user_id":"u","description":"d","status":"processed"}', ['status']);
            await expect422('POST', '/events', '/events', '{"user_id":"u","description":"d","event_id":"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"}', ['event_id']);
        });

        // JSON text is UTF-8 (RFC 8259): bytes that are not make the body malformed
        it('400 for a body holding invalid UTF-8', async () => {
            const bodies = [
                Buffer.concat([Buffer.from('{"user_id":"ab'), Buffer.from([0xff, 0xfe]), Buffer.from('","description":"d"}')]),
                Buffer.concat([Buffer.from('{"user_id":"u","description":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
                Buffer.concat([Buffer.from('{"user_id":"u","description":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
            ];
            // Direct: Prism would re-encode the bytes as valid UTF-8
            for (const body of bodies)
                await expectProblem('POST', '/events', '/events', 400,
                    { headers: { 'Content-Type': 'application/json' }, body, direct: true });
        });

        it('415 for a Content-Type other than application/json, or none', async () => {
            const body = JSON.stringify({ user_id: 'u', description: 'd' });
            for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'text/json; charset=utf-8']) {
                await expectProblem('POST', '/events', '/events', 415, { headers: { 'Content-Type': ct }, body });
            }
            await expectProblem('POST', '/events', '/events', 415, { body });
        });

        it('413 for a body over 16 KiB, by Content-Length or chunked', async () => {
            const big = JSON.stringify({ user_id: 'u', description: 'd'.repeat(MAX_BODY) });
            await expectProblem('POST', '/events', '/events', 413, { headers: JSON_CT, body: big });
            const parts = [];
            for (let i = 0; i < 20; i++) parts.push(i === 0 ? '{"user_id":"u","description":"' : 'x'.repeat(1024));
            parts.push('"}');
            // Direct: Prism forwards a chunked body with a Content-Length added
            await expectProblem('POST', '/events', '/events', 413, {
                headers: { ...JSON_CT, 'Transfer-Encoding': 'chunked' }, body: parts, direct: true,
            });
            // The server still works afterwards.
            await create(uniqueUser('after413'));
        });

        it('405 with Allow: GET, POST for other methods', async () => {
            for (const m of ['DELETE', 'PUT', 'PATCH']) {
                const res = await call(m, '/events', { headers: JSON_CT, body: '{}' });
                checker.check(res, '/events', m.toLowerCase());
                const allow = allowSet(res);
                for (const x of checker.methodsOf('/events')) assert.ok(allow.has(x), `Allow lacks ${x}: ${res.headers.allow}`);
                for (const x of allow) assert.ok(['GET', 'POST', 'HEAD', 'OPTIONS'].includes(x), `Allow has ${x}`);
            }
        });
    });

    describe('GET /events/{event_id}', () => {
        it('404 for an unknown id', async () => {
            await expectProblem('GET', `/events/${randomUUID()}`, '/events/{event_id}', 404);
        });

        it('400 for an id that is not a UUID', async () => {
            for (const id of ['not-a-uuid', '123', '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6', '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6bb',
                'zf2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b', '3f2b8c1e9a4d4e6f8b7a1c2d3e4f5a6b0000']) {
                await expectProblem('GET', `/events/${id}`, '/events/{event_id}', 400);
            }
        });

        it('404 for unknown paths, as a problem document', async () => {
            for (const p of ['/', '/nope', '/evnets', `/events/${randomUUID()}/extra`, '/healthz/x', '/events/']) {
                const res = await call('GET', p);
                checker.check(res, null, 'get', `GET ${p}`);
            }
        });

        it('405 with Allow: GET, PATCH for other methods', async () => {
            const ev = await create(uniqueUser('405'));
            for (const m of ['DELETE', 'PUT', 'POST']) {
                const res = await call(m, `/events/${ev.event_id}`, { headers: { ...JSON_CT, ...AUTH }, body: '{}' });
                checker.check(res, '/events/{event_id}', m.toLowerCase());
                const allow = allowSet(res);
                for (const x of checker.methodsOf('/events/{event_id}')) assert.ok(allow.has(x), `Allow lacks ${x}: ${res.headers.allow}`);
                for (const x of allow) assert.ok(['GET', 'PATCH', 'HEAD', 'OPTIONS'].includes(x), `Allow has ${x}`);
            }
        });
    });

    describe('PATCH /events/{event_id}', () => {
        let ev;
        before(async () => { ev = await create(uniqueUser('patch')); });
        const T = '/events/{event_id}';

        it('401 without a token, or with a wrong one, before anything else', async () => {
            const p = `/events/${ev.event_id}`;
            const body = '{"status":"processed"}';
            for (const auth of [undefined, 'Bearer wrong', 'Bearer secretx', 'Bearer ', 'Basic c2VjcmV0Og==', 'secret', 'bearer  secret x']) {
                const headers = { ...JSON_CT };
                if (auth !== undefined) headers.Authorization = auth;
                const { res } = await expectProblem('PATCH', p, T, 401, { headers, body });
                assert.match(String(res.headers['www-authenticate']), /^Bearer/i);
            }
            // The scheme is case-insensitive (RFC 9110 section 11.1). Direct:
            // Prism compares it case-sensitively ("Invalid security scheme used")
            const lower = await call('PATCH', p, { headers: { ...JSON_CT, Authorization: `bearer ${TOKEN}` }, body: '{"status":"pending"}', direct: true });
            checker.check(lower, T, 'patch');
            assert.equal(lower.status, 200, lower.text);
            // Authorization is checked before the id, the media type and the body.
            await expectProblem('PATCH', `/events/${randomUUID()}`, T, 401, { headers: JSON_CT, body });
            await expectProblem('PATCH', p, T, 401, { headers: { 'Content-Type': 'text/plain' }, body });
            await expectProblem('PATCH', p, T, 401, { headers: JSON_CT, body: '{', direct: true });
            // And nothing changed.
            const got = checker.check(await call('GET', p), T, 'get');
            assert.equal(got.status, 'pending');
        });

        it('200 with the updated event; only status and updated_at change', async () => {
            await sleep(5);
            const res = await call('PATCH', `/events/${ev.event_id}`, { headers: AUTH, body: { status: 'processed' } });
            const upd = checker.check(res, T, 'patch');
            assert.equal(res.status, 200, res.text);
            assert.equal(upd.status, 'processed');
            for (const k of ['event_id', 'user_id', 'description', 'created_at']) assert.equal(upd[k], ev[k], k);
            assert.ok(Date.parse(upd.updated_at) >= Date.parse(ev.updated_at), 'updated_at moved back');
            const got = checker.check(await call('GET', `/events/${ev.event_id}`), T, 'get');
            assert.deepEqual(got, upd);
            // Other status strings are stored as given; the longest is 64 bytes.
            for (const s of ['on_hold', 'a.b-c_9', 's'.repeat(64), 'processed']) {
                const r = await call('PATCH', `/events/${ev.event_id}`, { headers: AUTH, body: { status: s } });
                assert.equal(checker.check(r, T, 'patch').status, s);
            }
        });

        it('404 for an unknown id, 400 for an id that is not a UUID', async () => {
            await expectProblem('PATCH', `/events/${randomUUID()}`, T, 404, { headers: AUTH, body: { status: 'processed' } });
            await expectProblem('PATCH', '/events/not-a-uuid', T, 400, { headers: AUTH, body: { status: 'processed' } });
        });

        it('400 for a body that is not JSON or not an object', async () => {
            for (const body of ['{', '', '[]', '"processed"', 'null']) {
                await expectProblem('PATCH', `/events/${ev.event_id}`, T, 400, { headers: { ...JSON_CT, ...AUTH }, body, direct: true });
            }
        });

        it('422 naming the field for a bad status or any other field', async () => {
            const p = `/events/${ev.event_id}`;
            const A = ['PATCH', p, T];
            await expect422(...A, '{}', ['status'], AUTH);
            await expect422(...A, '{"status":""}', ['status'], AUTH);
            await expect422(...A, '{"status":"Processed"}', ['status'], AUTH);
            await expect422(...A, '{"status":"in progress"}', ['status'], AUTH);
            await expect422(...A, '{"status":"é"}', ['status'], AUTH);
            await expect422(...A, JSON.stringify({ status: 's'.repeat(65) }), ['status'], AUTH);
            await expect422(...A, '{"status":5}', ['status'], AUTH);
            await expect422(...A, '{"status":null}', ['status'], AUTH);
            await expect422(...A, '{"status":"processed","user_id":"x"}', ['user_id'], AUTH);
            await expect422(...A, '{"status":"processed","attempts":0}', ['attempts'], AUTH);
            const got = checker.check(await call('GET', p), T, 'get');
            assert.equal(got.user_id, ev.user_id);
        });

        it('400 when the body holds invalid UTF-8', async () => {
            const bad = Buffer.concat([Buffer.from('{"status":"a'), Buffer.from([0xff]), Buffer.from('"}')]);
            await expectProblem('PATCH', `/events/${ev.event_id}`, T, 400,
                { headers: { 'Content-Type': 'application/json', ...AUTH }, body: bad, direct: true });
        });

        it('415 for a Content-Type other than application/json', async () => {
            await expectProblem('PATCH', `/events/${ev.event_id}`, T, 415,
                { headers: { 'Content-Type': 'text/plain', ...AUTH }, body: '{"status":"processed"}' });
        });

        it('413 for a body over 16 KiB', async () => {
            await expectProblem('PATCH', `/events/${ev.event_id}`, T, 413,
                { headers: { ...JSON_CT, ...AUTH }, body: JSON.stringify({ status: 'a'.repeat(MAX_BODY + 10) }) });
        });
    });

    describe('GET /events', () => {
        const user = uniqueUser('list');
        const ids = [];
        before(async () => {
            for (let i = 0; i < 5; i++) ids.push((await create(user, `list event ${i}`)).event_id);
        });
        const list = async (query) => {
            const res = await call('GET', `/events?${query}`);
            const body = checker.check(res, '/events', 'get', `GET /events?${query}`);
            assert.equal(res.status, 200, res.text);
            return body;
        };

        it('lists oldest first, and filters by user_id', async () => {
            const page = await list(`user_id=${encodeURIComponent(user)}`);
            assert.deepEqual(page.items.map((e) => e.event_id), ids, 'creation order, oldest first');
            assert.equal(page.next, null);
            for (const e of page.items) assert.equal(e.user_id, user);
            const all = await list('limit=1000');
            for (let i = 1; i < all.items.length; i++) {
                assert.ok(all.items[i - 1].created_at <= all.items[i].created_at, 'not oldest first');
            }
        });

        it('pages with limit and the next/after cursor; next is null on the last page', async () => {
            const seen = [];
            let after = null;
            const sizes = [];
            for (let i = 0; i < 10; i++) {
                const q = `user_id=${encodeURIComponent(user)}&limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`;
                const page = await list(q);
                sizes.push(page.items.length);
                seen.push(...page.items.map((e) => e.event_id));
                if (page.next === null) break;
                assert.equal(page.next, page.items[page.items.length - 1].event_id, 'next is the last item\'s event_id');
                after = page.next;
            }
            assert.deepEqual(sizes, [2, 2, 1]);
            assert.deepEqual(seen, ids);
            const exact = await list(`user_id=${encodeURIComponent(user)}&limit=5`);
            assert.equal(exact.items.length, 5);
            assert.equal(exact.next, null, 'a page that is exactly full and last has next null');
            const one = await list(`user_id=${encodeURIComponent(user)}&limit=1`);
            assert.deepEqual(one.items.map((e) => e.event_id), [ids[0]]);
            assert.equal(one.next, ids[0]);
        });

        it('filters by status', async () => {
            const r = await call('PATCH', `/events/${ids[2]}`, { headers: AUTH, body: { status: 'processed' } });
            assert.equal(r.status, 200, r.text);
            const processed = await list(`user_id=${encodeURIComponent(user)}&status=processed`);
            assert.deepEqual(processed.items.map((e) => e.event_id), [ids[2]]);
            const pending = await list(`status=pending&user_id=${encodeURIComponent(user)}`);
            assert.deepEqual(pending.items.map((e) => e.event_id), [ids[0], ids[1], ids[3], ids[4]]);
            const paged = await list(`status=pending&user_id=${encodeURIComponent(user)}&limit=2&after=${ids[1]}`);
            assert.deepEqual(paged.items.map((e) => e.event_id), [ids[3], ids[4]]);
            assert.equal(paged.next, null);
            const none = await list(`user_id=${encodeURIComponent(user)}&status=failed`);
            assert.deepEqual(none, { items: [], next: null });
            const nobody = await list(`user_id=${encodeURIComponent(uniqueUser('nobody'))}`);
            assert.deepEqual(nobody, { items: [], next: null });
        });

        it('the default page holds at most 100 items', async () => {
            for (let i = 0; i < 101; i += 1) await create(uniqueUser('bulk'));
            const page = await list('');
            assert.equal(page.items.length, 100);
            assert.equal(typeof page.next, 'string');
        });

        it('422 naming the parameter for a bad limit, cursor or filter', async () => {
            const cases = [
                ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=-1', 'limit'], ['limit=abc', 'limit'],
                ['limit=1.5', 'limit'], ['limit=', 'limit'], ['limit=10x', 'limit'],
                ['after=not-a-cursor', 'after'], [`after=${randomUUID()}`, 'after'],
                ['status=Pending', 'status'], [`status=${'s'.repeat(65)}`, 'status'], ['status=a%20b', 'status'],
                [`user_id=${'u'.repeat(257)}`, 'user_id'], [`user_id=${'%C3%BC'.repeat(129)}`, 'user_id'],
                // limit is plain digits; a parameter given twice is refused
                ['limit=%205', 'limit'], ['limit=%2B5', 'limit'], ['limit=05', 'limit'], ['limit=%0A5', 'limit'],
                ['limit=5%20', 'limit'], ['limit=5&limit=5', 'limit'], ['user_id=a&user_id=b', 'user_id'],
            ];
            for (const [q, field] of cases) {
                const { body } = await expectProblem('GET', `/events?${q}`, '/events', 422);
                assert.ok(body.errors.some((e) => e.field === field), `GET /events?${q.slice(0, 40)}: errors ${JSON.stringify(body.errors)}`);
            }
        });

        it('while the broker is down, accepted events stay pending', async () => {
            await sleep(1500);
            for (const id of ids.filter((x) => x !== ids[2])) {
                const got = checker.check(await call('GET', `/events/${id}`), '/events/{event_id}', 'get');
                assert.equal(got.status, 'pending', `event ${id} with no broker`);
                assert.equal(got.attempts, 0);
            }
        });
    });

    describe('POST /events:batchCreate', () => {
        const BATCH = '/events:batchCreate';
        const batch = (body, opts = {}) => call('POST', BATCH, { ...opts, body });
        const items = (user, n) => Array.from({ length: n }, (_, i) => ({ user_id: user, description: `batch ${i}` }));
        const stored = async (user) => checker.check(await call('GET', `/events?user_id=${user}&limit=1000`), '/events', 'get').items;

        it('201 with every event in request order, each as POST /events returns it', async () => {
            const user = uniqueUser('batch');
            const res = await batch({ events: items(user, 3) });
            const body = checker.check(res, BATCH, 'post');
            assert.equal(res.status, 201, res.text);
            assert.equal(res.headers.location, undefined, 'no Location for many events');
            assert.deepEqual(body.events.map((e) => e.description), ['batch 0', 'batch 1', 'batch 2']);
            for (const ev of body.events) {
                assert.match(ev.event_id, UUID_V4);
                assert.equal(ev.status, 'pending');
                assert.equal(ev.attempts, 0);
                const got = checker.check(await call('GET', `/events/${ev.event_id}`), '/events/{event_id}', 'get');
                assert.deepEqual(got, ev);
            }
            assert.deepEqual((await stored(user)).map((e) => e.event_id), body.events.map((e) => e.event_id));
        });

        it('1000 events in one request, over --max-body; 1001 is 422 and records none', async () => {
            const user = uniqueUser('thousand');
            const events = items(user, 1000);
            assert.ok(JSON.stringify({ events }).length > MAX_BODY);
            const res = await batch({ events });
            assert.equal(checker.check(res, BATCH, 'post').events.length, 1000);
            assert.equal(res.status, 201, res.text);
            const other = uniqueUser('thousand');
            await expect422('POST', BATCH, BATCH, JSON.stringify({ events: items(other, 1001) }), ['/events']);
            assert.equal((await stored(other)).length, 0);
        });

        it('422 naming every bad field of every item by JSON pointer, recording none', async () => {
            const user = uniqueUser('invalid');
            const events = [...items(user, 2), { user_id: '' }, { user_id: user, description: 'x'.repeat(4097), 'a/b': 1 }];
            const problem = await expect422('POST', BATCH, BATCH, JSON.stringify({ events }),
                ['/events/2/user_id', '/events/2/description', '/events/3/description', '/events/3/a~1b']);
            assert.match(problem.detail, /2 of 4 events/);
            assert.equal((await stored(user)).length, 0);
        });

        it('422 for the wrong shape: no events, none, too many members, an item not an object', async () => {
            const one = { user_id: uniqueUser('shape'), description: 'd' };
            await expect422('POST', BATCH, BATCH, '{}', ['/events']);
            await expect422('POST', BATCH, BATCH, '{"events":[]}', ['/events']);
            await expect422('POST', BATCH, BATCH, '{"events":{}}', ['/events']);
            await expect422('POST', BATCH, BATCH, JSON.stringify({ events: [one, 7, [one]] }), ['/events/1', '/events/2']);
            await expect422('POST', BATCH, BATCH, JSON.stringify({ events: [one], more: true }), ['/more']);
            assert.equal((await stored(one.user_id)).length, 0);
        });

        it('400 for what is not a JSON object or nests too deep, and for an Idempotency-Key', async () => {
            for (const body of ['{"events":[', '[{"events":[]}]', `{"events":[${'['.repeat(20)}${']'.repeat(20)}]}`, '"events"']) {
                await expectProblem('POST', BATCH, BATCH, 400, { headers: JSON_CT, body, direct: !isJson(body) });
            }
            const user = uniqueUser('key');
            const { body: problem } = await expectProblem('POST', BATCH, BATCH, 400,
                { headers: { 'Idempotency-Key': 'k-1' }, body: { events: items(user, 1) } });
            assert.equal(problem.errors[0].field, 'Idempotency-Key');
            assert.equal((await stored(user)).length, 0);
        });

        it('415 for another media type, 405 with Allow: POST', async () => {
            await expectProblem('POST', BATCH, BATCH, 415, { headers: { 'Content-Type': 'text/plain' }, body: '{"events":[]}' });
            for (const m of ['GET', 'PUT', 'DELETE', 'PATCH']) {
                const res = await call(m, BATCH, m === 'GET' ? {} : { headers: JSON_CT, body: '{}' });
                checker.check(res, BATCH, m.toLowerCase(), `${m} ${BATCH}`);
                assert.equal(res.status, 405);
                assert.deepEqual([...allowSet(res)], ['POST']);
            }
        });

        it('404 for any other custom method on the collection', async () => {
            for (const p of ['/events:batchDelete', '/events:', '/events:batchcreate', '/events:batchCreate/x']) {
                const res = await call('POST', p, { headers: JSON_CT, body: '{"events":[]}' });
                checker.check(res, null, 'post', `POST ${p}`);
                assert.equal(res.status, 404, `POST ${p}`);
            }
        });
    });

    describe('POST /events:batchUpdateStatus', () => {
        const BATCH = '/events:batchUpdateStatus';
        const update = (body, headers = AUTH) => call('POST', BATCH, { headers, body });

        it('200 with a result per item in request order: 200, 404 and 422 side by side', async () => {
            const [a, b] = [await create(uniqueUser('bu')), await create(uniqueUser('bu'))];
            const missing = randomUUID();
            const res = await update({ updates: [
                { event_id: a.event_id.toUpperCase(), status: 'processed' },
                { event_id: missing, status: 'processed' },
                { event_id: b.event_id, status: 'In Progress' },
                { event_id: 'not-a-uuid', status: 'processed', extra: 1 },
                { status: 'processed' },
                { event_id: b.event_id, status: 'on_hold' },
            ] });
            const body = checker.check(res, BATCH, 'post');
            assert.equal(res.status, 200, res.text);
            assert.deepEqual(body.results.map((r) => r.code), [200, 404, 422, 422, 422, 200]);
            assert.deepEqual(body.results.map((r) => r.event_id), [a.event_id, missing, b.event_id, 'not-a-uuid', null, b.event_id]);
            assert.equal(body.results[0].event.status, 'processed');
            assert.equal(body.results[5].event.status, 'on_hold');
            assert.equal(body.results[1].problem.status, 404);
            assert.deepEqual(body.results[2].problem.errors.map((e) => e.field), ['/updates/2/status']);
            assert.deepEqual(body.results[3].problem.errors.map((e) => e.field), ['/updates/3/event_id', '/updates/3/extra']);
            assert.deepEqual(body.results[4].problem.errors.map((e) => e.field), ['/updates/4/event_id']);
            assert.equal(checker.check(await call('GET', `/events/${a.event_id}`), '/events/{event_id}', 'get').status, 'processed');
            assert.equal(checker.check(await call('GET', `/events/${b.event_id}`), '/events/{event_id}', 'get').status, 'on_hold');
        });

        it('401 without the token, before the body is read; nothing applied', async () => {
            const ev = await create(uniqueUser('bu401'));
            for (const headers of [{}, { Authorization: 'Bearer wrong' }]) {
                const { res } = await expectProblem('POST', BATCH, BATCH, 401,
                    { headers, body: { updates: [{ event_id: ev.event_id, status: 'processed' }] } });
                assert.match(res.headers['www-authenticate'], /^Bearer/);
            }
            assert.equal(checker.check(await call('GET', `/events/${ev.event_id}`), '/events/{event_id}', 'get').status, 'pending');
        });

        it('the wrong shape refuses the whole request (400/422): not even the good items apply', async () => {
            const ev = await create(uniqueUser('buwhole'));
            const good = { event_id: ev.event_id, status: 'processed' };
            const bodies = [
                [JSON.stringify({ updates: [good, 'processed'] }), 422, ['/updates/1']],
                [JSON.stringify({ updates: [good], also: 1 }), 422, ['/also']],
                [JSON.stringify({ updates: [] }), 422, ['/updates']],
                [JSON.stringify({ updates: Array(1001).fill(good) }), 422, ['/updates']],
                [JSON.stringify({ updates: good }), 422, ['/updates']],
                [JSON.stringify([good]), 400, null],
                ['{"updates":[', 400, null],
            ];
            for (const [body, status, fields] of bodies) {
                if (fields) await expect422('POST', BATCH, BATCH, body, fields, AUTH);
                else await expectProblem('POST', BATCH, BATCH, status, { headers: { ...JSON_CT, ...AUTH }, body, direct: !isJson(body) });
            }
            assert.equal(checker.check(await call('GET', `/events/${ev.event_id}`), '/events/{event_id}', 'get').status, 'pending');
        });

        it('1000 reports in one request all apply; 415 and 405 as for batchCreate', async () => {
            const user = uniqueUser('bu1000');
            const created = checker.check(await call('POST', '/events:batchCreate', {
                body: { events: Array.from({ length: 1000 }, (_, i) => ({ user_id: user, description: `e${i}` })) } }),
            '/events:batchCreate', 'post').events;
            const res = await update({ updates: created.map((e) => ({ event_id: e.event_id, status: 'processed' })) });
            const body = checker.check(res, BATCH, 'post');
            assert.equal(res.status, 200);
            assert.ok(body.results.every((r, i) => r.code === 200 && r.event_id === created[i].event_id));
            await expectProblem('POST', BATCH, BATCH, 415, { headers: { 'Content-Type': 'text/plain', ...AUTH }, body: '{}' });
            const res405 = await call('GET', BATCH);
            checker.check(res405, BATCH, 'get');
            assert.equal(res405.status, 405);
            assert.deepEqual([...allowSet(res405)], ['POST']);
        });
    });

    describe('405 on every other path', () => {
        it('answers 405 with Allow for a method the path lacks', async () => {
            for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs', '/docs/swagger-ui.css']) {
                for (const m of ['POST', 'DELETE']) {
                    const res = await call(m, p, { headers: JSON_CT, body: '{}' });
                    checker.check(res, checker.templateOf(p), m.toLowerCase(), `${m} ${p}`);
                    const allow = allowSet(res);
                    assert.ok(allow.has('GET'), `${m} ${p}: Allow ${res.headers.allow}`);
                    assert.ok(!allow.has(m), `${m} ${p}: Allow ${res.headers.allow}`);
                }
            }
        });

        it('serves exactly the documented methods: HEAD and OPTIONS on a path are 405', async () => {
            const ev = await create(uniqueUser('head'));
            for (const p of ['/events', `/events/${ev.event_id}`, '/events:batchCreate', '/events:batchUpdateStatus',
                '/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs']) {
                for (const m of ['HEAD', 'OPTIONS']) {
                    // Direct: Prism answers these itself (500 for a HEAD it has
                    // no operation for, its own CORS answer for OPTIONS)
                    const res = await call(m, p, { direct: true });
                    assert.equal(res.status, 405, `${m} ${p}: ${res.status}`);
                    const documented = checker.methodsOf(checker.templateOf(p));
                    assert.deepEqual([...allowSet(res)].sort(), documented.sort(), `${m} ${p}: Allow ${res.headers.allow}`);
                }
            }
        });
    });

    describe('the request itself', () => {
        it('400 on every operation for %00 in the query, which must not cut a value short', async () => {
            const ev = await create(uniqueUser('nul'));
            const ops = [['GET', '/events?status=processed%00XYZ'], ['GET', `/events/${ev.event_id}?x=%00`],
                ['GET', '/healthz?x=%00'], ['GET', '/readyz?x=%00'], ['GET', '/metrics?x=%00'],
                ['GET', '/openapi.yaml?x=%00'], ['GET', '/docs?x=%00'], ['GET', '/docs/swagger-ui.css?x=%00']];
            for (const [m, p] of ops) {
                const res = await call(m, p);
                const body = checker.check(res, checker.templateOf(p), m.toLowerCase(), `${m} ${p}`);
                assert.equal(res.status, 400, `${m} ${p}: ${res.text}`);
                assert.match(body.detail, /%00/);
            }
            const created = await call('POST', '/events?x=%00', { body: { user_id: uniqueUser('nul'), description: 'd' } });
            checker.check(created, '/events', 'post');
            assert.equal(created.status, 400);
            const patched = await call('PATCH', `/events/${ev.event_id}?x=%00`, { headers: AUTH, body: { status: 'processed' } });
            checker.check(patched, '/events/{event_id}', 'patch');
            assert.equal(patched.status, 400);
            assert.equal(checker.check(await call('GET', `/events/${ev.event_id}`), '/events/{event_id}', 'get').status, 'pending');
        });

        it('404 for a path that is not exactly a documented one, whatever the method', async () => {
            const ev = await create(uniqueUser('strict'));
            const paths = ['/events/', `/events/${ev.event_id}/x`, `/events/${ev.event_id}%00x`, '/events/%00',
                '/healthz%00junk', '/docs/%00index.html', '/docs/a/b'];
            for (const p of paths) {
                for (const m of ['GET', 'POST', 'PATCH', 'DELETE']) {
                    // No body on GET: Prism refuses to forward one (501)
                    const body = m === 'GET' ? undefined : '{"status":"processed"}';
                    const res = await call(m, p, { headers: { ...JSON_CT, ...AUTH }, body });
                    checker.check(res, null, m.toLowerCase(), `${m} ${p}`);
                }
            }
            // Doubled slashes and dot segments, which clients tidy up: raw
            for (const p of ['//events', '/./events', '/events/../events', `/events//${ev.event_id}`]) {
                const res = await rawRequest(logger.port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
                checker.check(res, null, 'get', `GET ${p}`);
            }
            assert.equal(checker.check(await call('GET', `/events/${ev.event_id}`), '/events/{event_id}', 'get').status, 'pending');
        });
    });

    describe('a --max-batch-body of 4096 bytes', () => {
        // Small, so the body the server refuses unread still fits the
        // socket buffers: a client writing megabytes may see the connection
        // reset before it reads the 413
        let limited;
        after(async () => { if (limited) await limited.stop(); });

        it('413 on both batch routes over it, nothing applied; a body under it works', async () => {
            limited = await startLogger({ token: null, extraArgs: ['--max-batch-body', '4096'], prism: true });
            const user = uniqueUser('limit');
            const events = (n) => Array.from({ length: n }, (_, i) => ({ user_id: user, description: `event number ${i}` }));
            const big = { events: events(100) };
            assert.ok(JSON.stringify(big).length > 4096);
            for (const [p, body] of [['/events:batchCreate', big],
                ['/events:batchUpdateStatus', { updates: Array(100).fill({ event_id: randomUUID(), status: 'processed' }) }]]) {
                const res = await request(limited.baseUrl, 'POST', p, { body });
                const problem = checker.check(res, p, 'post');
                assert.equal(res.status, 413, res.text);
                assert.match(problem.detail, /4096 bytes/);
            }
            const small = await request(limited.baseUrl, 'POST', '/events:batchCreate', { body: { events: events(10) } });
            assert.equal(checker.check(small, '/events:batchCreate', 'post').events.length, 10);
            const list = await request(limited.baseUrl, 'GET', `/events?user_id=${user}`);
            assert.equal(checker.check(list, '/events', 'get').items.length, 10);
        });
    });

    describe('a full store', () => {
        let small;
        const emptyDocs = mkdtempSync(path.join(tmpdir(), 'enp-nodocs-'));
        after(async () => {
            if (small) await small.stop();
            rmSync(emptyDocs, { recursive: true, force: true });
        });

        it('GET /docs answers 503 saying how to install Swagger UI when --docs-dir is empty', async () => {
            small = await startLogger({ token: null, docs: emptyDocs, extraArgs: ['--max-events', '3'], prism: true });
            // /docs/ direct: Prism knows no route for it (see above)
            for (const [p, base, template] of [['/docs/', small.directUrl, '/docs'], ['/docs', small.baseUrl, '/docs'],
                ['/docs/index.html', small.baseUrl, '/docs/{file}']]) {
                const res = await request(base, 'GET', p);
                const body = checker.check(res, template, 'get', `GET ${p} (no Swagger UI)`);
                assert.equal(res.status, 503, res.text);
                assert.match(body.detail, /npm/, 'detail says how to install it');
            }
            // The API itself works.
            assert.equal((await request(small.baseUrl, 'GET', '/healthz')).status, 200);
        });

        it('answers 503 with Retry-After once --max-events unprocessed events are held, dropping none', async () => {
            assert.ok(small, 'the small logger did not start');
            const ids = [];
            for (let i = 0; i < 3; i++) {
                const res = await request(small.baseUrl, 'POST', '/events', { body: { user_id: 'full', description: `e${i}` } });
                assert.equal(checker.check(res, '/events', 'post').status, 'pending');
                assert.equal(res.status, 201, res.text);
                ids.push(res.headers.location);
            }
            const res = await request(small.baseUrl, 'POST', '/events', { body: { user_id: 'full', description: 'one too many' } });
            checker.check(res, '/events', 'post');
            assert.equal(res.status, 503, res.text);
            assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After ${res.headers['retry-after']}`);
            for (const loc of ids) assert.equal((await request(small.baseUrl, 'GET', loc)).status, 200, `${loc} was dropped`);
            const ready = await request(small.baseUrl, 'GET', '/readyz');
            checker.check(ready, '/readyz', 'get');
            assert.equal(ready.status, 503);

            // Without a configured token PATCH needs no authorization; a processed
            // event may then be evicted to make room for a new one.
            const patched = await request(small.baseUrl, 'PATCH', ids[0], { body: { status: 'processed' } });
            checker.check(patched, '/events/{event_id}', 'patch');
            assert.equal(patched.status, 200, patched.text);
            const again = await request(small.baseUrl, 'POST', '/events', { body: { user_id: 'full', description: 'room now' } });
            checker.check(again, '/events', 'post');
            assert.equal(again.status, 201, `after one event was processed: ${again.text}`);
            for (const loc of ids.slice(1)) assert.equal((await request(small.baseUrl, 'GET', loc)).status, 200, `${loc} was dropped`);
        });

        it('POST /events:batchCreate answers 503 with Retry-After when the store lacks room for the batch, recording none', async () => {
            assert.ok(small, 'the small logger did not start');
            const events = [{ user_id: 'fullbatch', description: 'a' }, { user_id: 'fullbatch', description: 'b' }];
            const res = await request(small.baseUrl, 'POST', '/events:batchCreate', { body: { events } });
            checker.check(res, '/events:batchCreate', 'post');
            assert.equal(res.status, 503, res.text);
            assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After ${res.headers['retry-after']}`);
            const list = await request(small.baseUrl, 'GET', '/events?user_id=fullbatch');
            assert.equal(checker.check(list, '/events', 'get').items.length, 0);
        });

        it('exits 0 within 5 s of SIGTERM', async () => {
            assert.ok(small, 'the small logger did not start');
            const r = await small.stop(5000);
            assert.equal(r.killed, false, `did not exit within 5 s of SIGTERM\n${small.log().slice(-2000)}`);
            assert.equal(r.code, 0, `exit ${JSON.stringify(r)}\n${small.log().slice(-2000)}`);
        });
    });

    describe('Idempotency-Key', () => {
        it('a retry with the same key and body answers 201 with the first event, creating nothing', async () => {
            const key = `contract-${randomUUID()}`;
            const body = { user_id: uniqueUser('idem'), description: 'charged once' };
            const first = await call('POST', '/events', { body, headers: { 'Idempotency-Key': key } });
            const event = checker.check(first, '/events', 'post');
            assert.equal(first.status, 201, first.text);
            const again = await call('POST', '/events', { body, headers: { 'Idempotency-Key': key } });
            const same = checker.check(again, '/events', 'post');
            assert.equal(again.status, 201, again.text);
            assert.equal(same.event_id, event.event_id);
            assert.equal(again.headers.location, first.headers.location);
            const list = checker.check(await call('GET', `/events?user_id=${body.user_id}`), '/events', 'get');
            assert.equal(list.items.length, 1, 'one event for the two requests');
        });

        it('the same key with another body is 422 naming the header', async () => {
            const key = `contract-${randomUUID()}`;
            const user = uniqueUser('idem');
            const first = await call('POST', '/events', { body: { user_id: user, description: 'one' }, headers: { 'Idempotency-Key': key } });
            assert.equal(first.status, 201, first.text);
            const other = await call('POST', '/events', { body: { user_id: user, description: 'two' }, headers: { 'Idempotency-Key': key } });
            const problem = checker.check(other, '/events', 'post');
            assert.equal(other.status, 422, other.text);
            assert.equal(problem.errors[0].field, 'Idempotency-Key');
        });

        it('a malformed key is 400', async () => {
            const res = await call('POST', '/events', { body: { user_id: 'u', description: 'd' },
                headers: { 'Idempotency-Key': 'two words' } });
            const problem = checker.check(res, '/events', 'post');
            assert.equal(res.status, 400, res.text);
            assert.equal(problem.errors[0].field, 'Idempotency-Key');
        });
    });

    describe('with the PostgreSQL store', () => {
        // A throwaway cluster (scripts/pg-scratch.sh), halted mid-test: every
        // route that needs the database answers 503 with Retry-After.
        const scratch = path.join(repoRoot, 'scripts', 'pg-scratch.sh');
        const dir = mkdtempSync(path.join(tmpdir(), 'enp-contract-pg-'));
        let durable;
        after(async () => {
            if (durable) await durable.stop();
            execFileSync(scratch, ['stop', dir], { stdio: 'inherit' });
        });

        it('answers 503 with Retry-After on every route while the database is away', async () => {
            const url = execFileSync(scratch, ['start', dir], { encoding: 'utf8' }).trim();
            durable = await startLogger({ token: null, extraArgs: ['--store', url, '--request-timeout', '2000'] });
            const created = await request(durable.baseUrl, 'POST', '/events', { body: { user_id: 'pg', description: 'durable' } });
            assert.equal(checker.check(created, '/events', 'post').status, 'pending');
            const loc = created.headers.location;
            execFileSync(scratch, ['halt', dir], { stdio: 'inherit' });
            try {
                const calls = [
                    ['POST', '/events', '/events', 'post', { body: { user_id: 'pg', description: 'lost?' } }],
                    ['GET', '/events', '/events', 'get', {}],
                    ['GET', loc, '/events/{event_id}', 'get', {}],
                    ['PATCH', loc, '/events/{event_id}', 'patch', { body: { status: 'processed' } }],
                    ['POST', '/events:batchCreate', '/events:batchCreate', 'post', { body: { events: [{ user_id: 'pg', description: 'lost?' }] } }],
                    ['GET', '/readyz', '/readyz', 'get', {}],
                ];
                for (const [method, p, route, op, opts] of calls) {
                    const res = await request(durable.baseUrl, method, p, opts);
                    const problem = checker.check(res, route, op);
                    assert.equal(res.status, 503, `${method} ${p}: ${res.text}`);
                    assert.ok(Number(res.headers['retry-after']) >= 1, `${method} ${p}: Retry-After ${res.headers['retry-after']}`);
                    assert.match(problem.detail, /database/, `${method} ${p} says why`);
                }
                // A status batch answers 200: each item says the store is away
                const batch = await request(durable.baseUrl, 'POST', '/events:batchUpdateStatus', {
                    body: { updates: [{ event_id: loc.slice('/events/'.length), status: 'processed' },
                        { event_id: loc.slice('/events/'.length), status: 'queued' }] } });
                const results = checker.check(batch, '/events:batchUpdateStatus', 'post').results;
                assert.equal(batch.status, 200, batch.text);
                assert.deepEqual(results.map((r) => r.code), [503, 503]);
                assert.match(results[0].problem.detail, /database/);
            } finally {
                execFileSync(scratch, ['resume', dir], { stdio: 'inherit' });
            }
            // Back by itself: the event recorded before is still there
            let res;
            const deadline = Date.now() + 15000;
            do {
                res = await request(durable.baseUrl, 'GET', loc);
                if (res.status === 200) break;
                await sleep(200);
            } while (Date.now() < deadline);
            assert.equal(checker.check(res, '/events/{event_id}', 'get').user_id, 'pg');
        });
    });

    describe('with a queue-broker listening', () => {
        let broker;
        let linked;
        after(async () => {
            if (linked) await linked.stop();
            if (broker) await stopProcess(broker);
        });

        it('GET /readyz turns 200 {"status":"ready"} and new events become queued', async () => {
            const brokerPort = await freePort();
            broker = spawnBroker(brokerPort, await freePort());
            linked = await startLogger({ token: null, brokerPort, prism: true });
            let res;
            const deadline = Date.now() + 15000;
            do {
                res = await request(linked.baseUrl, 'GET', '/readyz');
                if (res.status === 200) break;
                await sleep(200);
            } while (Date.now() < deadline);
            const body = checker.check(res, '/readyz', 'get');
            assert.equal(res.status, 200, `readyz with a broker listening: ${res.text}\n${broker.output()}`);
            assert.equal(body.status, 'ready');

            const created = await request(linked.baseUrl, 'POST', '/events', { body: { user_id: 'linked', description: 'via broker' } });
            assert.equal(created.status, 201, created.text);
            let ev;
            const until = Date.now() + 10000;
            do {
                ev = checker.check(await request(linked.baseUrl, 'GET', created.headers.location), '/events/{event_id}', 'get');
                if (ev.status === 'queued') break;
                await sleep(100);
            } while (Date.now() < until);
            assert.equal(ev.status, 'queued', 'an event handed to the broker is queued');
            assert.ok(ev.attempts >= 1, `attempts ${ev.attempts} after one hand-over`);
        });
    });

    // 408 and 429 can answer any request, so the spec says so in its
    // description rather than under each operation: held here to that and
    // to the problem document's schema.
    function checkAnyRequestProblem (res, status) {
        assert.equal(res.status, status, res.text);
        assert.equal(String(res.headers['content-type']).split(';')[0], 'application/problem+json');
        const problem = JSON.parse(res.text);
        const valid = checker.validatorAt('/components/schemas/Problem');
        assert.ok(valid(problem), JSON.stringify(valid.errors));
        assert.equal(problem.status, status);
        assert.equal(res.headers.connection, 'close');
        return problem;
    }

    describe('with a 1 s request timeout and 2 connections per client', () => {
        let strict;
        let id;
        before(async () => {
            strict = await startLogger({
                extraArgs: ['--request-timeout', '1000', '--max-connections-per-client', '2'],
            });
            const res = await request(strict.baseUrl, 'POST', '/events', { body: { user_id: 'slow', description: 'd' } });
            assert.equal(res.status, 201, res.text);
            id = res.json().event_id;
        });
        after(async () => { if (strict) await strict.stop(); });

        // A body that stops coming is cut at the deadline: 408, and closed.
        for (const [method, p, template, auth] of [
            ['POST', '/events', '/events', {}],
            ['PATCH', () => `/events/${id}`, '/events/{event_id}', AUTH],
        ]) {
            it(`${method} ${template} whose body does not arrive in time: 408, closed`, async () => {
                const conn = rawConnection(strict.baseUrl);
                await conn.connected;
                const target = typeof p === 'function' ? p() : p;
                const extra = Object.entries(auth).map(([k, v]) => `${k}: ${v}\r\n`).join('');
                conn.send(`${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
                          `${extra}Content-Length: 40\r\n\r\n{"`);
                const res = await conn.read();
                checkAnyRequestProblem(res, 408);
                assert.ok(await conn.closedWithin(), 'the connection stayed open after 408');
                conn.close();
            });
        }

        // A third connection from this address while two are held: 429 at once.
        for (const [method, p, template] of [
            ['POST', '/events', '/events'], ['PATCH', () => `/events/${id}`, '/events/{event_id}'],
        ]) {
            it(`${method} ${template} on one connection too many: 429 with Retry-After`, async () => {
                const held = [rawConnection(strict.baseUrl), rawConnection(strict.baseUrl)];
                for (const conn of held) {
                    await conn.connected;
                    conn.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
                    assert.equal((await conn.read()).status, 200);
                }
                const extra = method === 'PATCH' ? `Authorization: Bearer ${TOKEN}\r\n` : '';
                const body = method === 'PATCH' ? '{"status":"processed"}' : '{"user_id":"u","description":"d"}';
                const conn = rawConnection(strict.baseUrl);
                await conn.connected;
                const target = typeof p === 'function' ? p() : p;
                conn.send(`${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
                          `${extra}Content-Length: ${body.length}\r\n\r\n${body}`);
                const res = await conn.read();
                checkAnyRequestProblem(res, 429);
                assert.equal(res.headers['retry-after'], '1');
                for (const c of [...held, conn]) c.close();
                // The two held connections are gone: this address is served again
                let again;
                const until = Date.now() + 5000;
                do {
                    again = await request(strict.baseUrl, 'GET', '/healthz');
                    if (again.status === 200) break;
                    await sleep(50);
                } while (Date.now() < until);
                assert.equal(again.status, 200);
            });
        }
    });

    describe('coverage', () => {
        it('every documented (operation, status) but 500 was seen live', () => {
            const missing = [];
            for (const { path: p, method, op } of checker.operations()) {
                for (const code of Object.keys(op.responses)) {
                    if (code === '500') continue;
                    const key = `${method.toUpperCase()} ${p} ${code}`;
                    if (!checker.seen.has(key)) missing.push(key);
                }
            }
            assert.ok(checker.seen.has('(unknown path) 404'));
            assert.deepEqual(missing, [], 'documented responses no test exercised');
        });

        it('Prism validated the answers, and found a forbidden request only where the server refused it', (t) => {
            t.diagnostic(`${prismStats.responses} responses came through Prism; ` +
                `${prismStats.requestViolations} requests broke the spec on purpose, each refused`);
            assert.ok(prismStats.responses >= 200, `only ${prismStats.responses} responses came through Prism`);
            assert.ok(prismStats.requestViolations >= 50, 'the suite should send Prism many bad requests');
        });

        it('the logger exits 0 within 5 s of SIGTERM', async () => {
            const r = await logger.stop(5000);
            assert.equal(r.killed, false, `did not exit within 5 s of SIGTERM\n${logger.log().slice(-2000)}`);
            assert.equal(r.code, 0, `exit ${JSON.stringify(r)}\n${logger.log().slice(-2000)}`);
        });
    });
});
