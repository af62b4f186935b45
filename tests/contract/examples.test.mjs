// examples.test.mjs - every example in api/openapi.yaml is what the server says.
//
// Run (after `npm ci` in api/ and a build of the logger and the broker):
//   cd api && LOGGER_BIN=../build/bin/event-logger npm run test:contract
//
// Each response example carries an `x-request`: the request that produces it
// (method, path, body, headers; `setup` requests made first, whose last created
// event is `{event_id}`, in the path or anywhere in a JSON body; `server` when it needs a logger other than the default
// one; `raw` for header bytes no HTTP client sends). This test replays each one
// against fresh real loggers (behind Prism, as the contract test is) and compares:
// problem documents exactly (`detail`, every `errors[].message`), other JSON
// bodies but for the values the server chooses (ids, times, attempts, cursors),
// Prometheus text by its HELP/TYPE lines and series names, and the documented
// headers (`Allow`, `Retry-After`, `WWW-Authenticate`, `Location`) against their
// examples. Then request-body and parameter examples must be accepted, and every
// `detail`/`message` the document quotes elsewhere (schema examples, prose) must
// be one of the verified ones. The servers:
//   default  --status-token secret, Swagger UI installed, no broker listening
//   small    no token, --max-events 3, --max-batch-body 4096, no Swagger UI
//   linked   no token, a real queue-broker listening
//   nodb     no token, the PostgreSQL store with one connection, on a
//            throwaway cluster (scripts/pg-scratch.sh) halted once the logger
//            is up: the database went away (the logger refuses to start
//            without it, so it cannot be away from the start); not behind Prism
// Env: LOGGER_BIN, BROKER_BIN, DOCS_DIR as for contract.test.mjs.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { docsDir, freePort, loadSpec, rawRequest, repoRoot, request, SpecChecker,
    spawnBroker, startLogger, stopProcess } from './harness.mjs';

const TOKEN = 'secret';
const NO_EVENT = '00000000-0000-4000-8000-000000000000';
// Values the server chooses: compared by presence, not by value
const CHOSEN = new Set(['event_id', 'created_at', 'updated_at', 'attempts', 'next']);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const spec = loadSpec();
const checker = new SpecChecker(spec);

// Every example of a response, request body or parameter in the document,
// with where it is and what it belongs to.
function collectExamples () {
    const responses = new Map();        // pointer -> { code, media, name, example, response }
    const bodies = [];
    const parameters = [];
    const singular = [];                // `example:` where `examples:` with x-request belongs
    for (const { path: p, method, op } of checker.operations()) {
        const esc = p.replace(/~/g, '~0').replace(/\//g, '~1');
        for (const [code, r] of Object.entries(op.responses)) {
            const base = r.$ref ? r.$ref.replace(/^#/, '') : `/paths/${esc}/${method}/responses/${code}`;
            const response = checker.deref(r);
            for (const [media, content] of Object.entries(response.content || {})) {
                if (content.example !== undefined) singular.push(`${base} ${media}`);
                for (const [name, example] of Object.entries(content.examples || {})) {
                    const pointer = `${base}/content/${media}/examples/${name}`;
                    if (!responses.has(pointer)) responses.set(pointer, { code: Number(code), media, name, example, response });
                }
            }
        }
        for (const [media, content] of Object.entries(op.requestBody?.content || {})) {
            for (const [name, example] of Object.entries(content.examples || {})) bodies.push({ path: p, method, media, name, example });
        }
        const params = [...(spec.paths[p].parameters || []), ...(op.parameters || [])].map((x) => checker.deref(x));
        for (const param of params) {
            const values = param.example !== undefined ? [param.example]
                : Object.values(param.examples || {}).map((e) => e.value);
            for (const value of values) parameters.push({ path: p, method, param, value });
        }
    }
    return { responses: [...responses.entries()], bodies, parameters, singular };
}

// Replace what the server chooses, anywhere in a JSON value.
function masked (value) {
    if (Array.isArray(value)) return value.map(masked);
    if (value && typeof value === 'object') {
        const out = {};
        for (const [k, v] of Object.entries(value)) out[k] = CHOSEN.has(k) && v !== null ? '<chosen>' : masked(v);
        return out;
    }
    return value;
}

// A body that JSON.parse refuses makes Prism answer itself: send it direct.
function isJson (text) {
    try { JSON.parse(text); return true; } catch { return false; }
}

describe('every example in api/openapi.yaml is what the server answers', { timeout: 120000 }, () => {
    const servers = {};
    let broker;
    let docs;
    const emptyDocs = mkdtempSync(path.join(tmpdir(), 'enp-nodocs-'));
    const scratch = path.join(repoRoot, 'scripts', 'pg-scratch.sh');
    const pgDir = mkdtempSync(path.join(tmpdir(), 'enp-examples-pg-'));
    const verified = new Set();         // every detail and message checked live
    const examples = collectExamples();

    before(async () => {
        docs = docsDir();
        const brokerPort = await freePort();
        broker = spawnBroker(brokerPort, await freePort());
        const pgUrl = execFileSync(scratch, ['start', pgDir], { encoding: 'utf8' }).trim();
        const [main, small, linked, nodb] = await Promise.all([
            startLogger({ token: TOKEN, docs: docs.dir, prism: true }),
            startLogger({ token: null, docs: emptyDocs, extraArgs: ['--max-events', '3', '--max-batch-body', '4096'], prism: true }),
            startLogger({ token: null, brokerPort, prism: true }),
            // No Prism in front: its two answers are held to the spec by ajv,
            // and a fourth Prism starting beside the others is slow on a busy machine
            startLogger({ token: null, extraArgs: ['--store', pgUrl, '--store-connections', '1'] }),
        ]);
        servers.default = { logger: main, token: TOKEN };
        servers.small = { logger: small, token: null };
        servers.linked = { logger: linked, token: null };
        servers.nodb = { logger: nodb, token: null };
        execFileSync(scratch, ['halt', pgDir], { stdio: 'inherit' });
        // The linked logger is ready once its broker link is up
        const deadline = Date.now() + 15000;
        while ((await request(linked.baseUrl, 'GET', '/readyz')).status !== 200 && Date.now() < deadline) await sleep(100);
    });

    after(async () => {
        await Promise.all(Object.values(servers).map((s) => s.logger.stop()));
        if (broker) await stopProcess(broker);
        if (docs) docs.cleanup();
        rmSync(emptyDocs, { recursive: true, force: true });
        execFileSync(scratch, ['stop', pgDir], { stdio: 'inherit' });
    });

    // Make one request of an x-request (or a setup step of one).
    async function send (server, step, eventId, auth) {
        const target = step.path.replace('{event_id}', eventId ?? NO_EVENT);
        const headers = { ...(auth && server.token ? { Authorization: `Bearer ${server.token}` } : {}), ...(step.headers || {}) };
        if (step.raw !== undefined) {
            return rawRequest(server.logger.port, `${step.method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${step.raw}`);
        }
        let body = step.body;
        let direct = false;
        if (body && typeof body === 'object') {
            body = JSON.parse(JSON.stringify(body).replaceAll('{event_id}', eventId ?? NO_EVENT));
        }
        if (typeof body === 'string') {
            body = body.replace(/\{pad:(\d+)\}/g, (_, n) => 'x'.repeat(Number(n)));
            if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
            direct = !isJson(body);
        }
        const base = direct ? server.logger.directUrl : server.logger.baseUrl;
        return request(base, step.method, target, { headers, body });
    }

    // Make an x-request, its setup first; returns the response.
    async function replay (x) {
        const server = servers[x.server || 'default'];
        assert.ok(server, `x-request names an unknown server ${x.server}`);
        let eventId = null;
        for (const step of x.setup || []) {
            const res = await send(server, step, eventId, true);
            if (step.method === 'POST' && res.status === 201) eventId = res.json().event_id;
        }
        return send(server, x, eventId, x.auth !== false);
    }

    it('uses `examples` (with x-request) for every response, never a bare `example`', () => {
        assert.deepEqual(examples.singular, []);
        assert.ok(examples.responses.length >= 20, `only ${examples.responses.length} response examples`);
    });

    for (const [pointer, { code, media, name, example, response }] of examples.responses) {
        it(`${pointer.replace(/^\/(paths|components\/responses)\//, '').replace(/~1/g, '/')}`, async () => {
            const x = example['x-request'];
            assert.ok(x, `example ${name} has no x-request: which request produces it?`);
            const res = await replay(x);
            const template = checker.templateOf(x.path);
            // Held to the schemas too (raw requests are outside the spec's reach)
            if (x.raw === undefined) checker.check(res, template, x.method.toLowerCase(), `${x.method} ${x.path}`);
            assert.equal(res.status, code, `${x.method} ${x.path}: ${res.text.slice(0, 300)}`);
            assert.equal(String(res.headers['content-type']).split(';')[0].trim(), media);
            if (media.endsWith('json')) {
                const live = JSON.parse(res.text);
                assert.deepEqual(masked(live), masked(example.value), `the example differs from the answer to ${x.method} ${x.path}`);
                if (media === 'application/problem+json') {
                    verified.add(live.detail);
                    for (const e of live.errors || []) verified.add(e.message);
                }
            } else if (media === 'text/plain') {
                const live = res.text.split('\n');
                for (const line of example.value.trim().split('\n')) {
                    if (line.startsWith('#')) assert.ok(live.includes(line), `/metrics lacks the line ${line}`);
                    else {
                        const series = line.slice(0, line.lastIndexOf(' ') + 1);
                        assert.ok(live.some((l) => l.startsWith(series)), `/metrics lacks the series ${series}`);
                    }
                }
            } else {
                assert.fail(`no way to compare a ${media} example`);
            }
            for (const [header, h] of Object.entries(response.headers || {})) {
                const values = checker.deref(checker.deref(h).schema || {}).examples || [];
                const value = res.headers[header.toLowerCase()];
                assert.ok(value !== undefined, `${header} missing from the answer to ${x.method} ${x.path}`);
                for (const documented of values) {
                    assert.equal(String(value).replace(UUID, '<id>'), String(documented).replace(UUID, '<id>'),
                        `${header} of ${x.method} ${x.path} differs from its example`);
                }
            }
        });
    }

    it('every request body example is accepted', async () => {
        assert.ok(examples.bodies.length > 0);
        for (const { path: p, method, name, example } of examples.bodies) {
            let target = p;
            if (p.includes('{event_id}')) {
                const created = await replay({ method: 'POST', path: '/events', body: { user_id: 'u', description: 'd' } });
                target = p.replace('{event_id}', created.json().event_id);
            }
            const res = await replay({ method: method.toUpperCase(), path: target, body: example.value });
            checker.check(res, p, method, `${method.toUpperCase()} ${p} with example ${name}`);
            assert.ok(res.status < 300, `example ${name} of ${method.toUpperCase()} ${p} got ${res.status}: ${res.text}`);
        }
    });

    it('every parameter example is taken as well-formed', async () => {
        assert.ok(examples.parameters.length > 0);
        for (const { path: p, method, param, value } of examples.parameters) {
            const encoded = encodeURIComponent(value);
            const target = param.in === 'query' ? `${p}?${param.name}=${encoded}` : p.replace(`{${param.name}}`, encoded);
            assert.ok(!/\{/.test(target), `${target}: more than one path parameter to fill`);
            const res = await replay({ method: method.toUpperCase(), path: target, auth: false });
            checker.check(res, p, method, `${method.toUpperCase()} ${target}`);
            assert.ok(![400, 422].includes(res.status), `${param.name}=${value} was refused: ${res.text}`);
        }
    });

    it('every detail and message quoted elsewhere is one the server sends', () => {
        assert.ok(verified.size > 10, 'the response examples ran first');
        const quoted = [];
        // Examples of the Problem and FieldError schemas
        quoted.push(...(spec.components.schemas.Problem.properties.detail.examples || []));
        quoted.push(...(spec.components.schemas.FieldError.properties.message.examples || []));
        // JSON quoted in prose
        const walk = (node) => {
            if (Array.isArray(node)) node.forEach(walk);
            else if (node && typeof node === 'object') {
                for (const [k, v] of Object.entries(node)) {
                    if (k === 'description' && typeof v === 'string') {
                        for (const m of v.matchAll(/"(?:detail|message)":\s*"((?:[^"\\]|\\.)*)"/g)) quoted.push(JSON.parse(`"${m[1]}"`));
                    } else walk(v);
                }
            }
        };
        walk(spec);
        assert.ok(quoted.length >= 4, `found only ${quoted.length} quoted texts`);
        for (const text of quoted) assert.ok(verified.has(text), `"${text}" is quoted in the spec but no verified example has it`);
    });

    it('no method of the document is left without a live example of its success', () => {
        for (const { path: p, method, op } of checker.operations()) {
            const success = Object.keys(op.responses).filter((c) => c.startsWith('2'));
            const covered = success.some((c) => Object.values(checker.deref(op.responses[c]).content || {})
                .some((content) => Object.keys(content.examples || {}).length > 0));
            // The Swagger UI page and its files are served from disk, not examples
            if (['/docs', '/docs/{file}', '/openapi.yaml'].includes(p)) continue;
            assert.ok(covered, `${method.toUpperCase()} ${p} has no example of its ${success.join('/')}`);
        }
    });
});
