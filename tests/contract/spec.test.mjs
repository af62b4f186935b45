// spec.test.mjs - static checks of api/openapi.yaml and the docs page; needs no server.
//
// Run: cd api && npm ci && node --test ../tests/contract/spec.test.mjs
//
// The Redocly lint (npm run lint) checks the document's form; these tests check
// that it says what README.md's API section says, with the same ajv the live tests use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiDir, loadSpec, SpecChecker, HTTP_METHODS } from './harness.mjs';

const spec = loadSpec();
const checker = new SpecChecker(spec);

// What README.md's API table fixes: method, path, operationId, status codes.
// Every operation documents 400: a request framed ambiguously or with %00 in
// its query is refused on any path.
const CONTRACT = [
    ['post', '/events', 'createEvent', ['201', '400', '405', '413', '415', '422', '503']],
    ['get', '/events', 'listEvents', ['200', '400', '405', '422']],
    ['get', '/events/{event_id}', 'getEvent', ['200', '400', '404', '405']],
    ['patch', '/events/{event_id}', 'updateEventStatus', ['200', '400', '401', '404', '405', '413', '415', '422']],
    ['post', '/events:batchCreate', 'batchCreateEvents', ['201', '400', '405', '413', '415', '422', '503']],
    ['post', '/events:batchUpdateStatus', 'batchUpdateEventStatus', ['200', '400', '401', '405', '413', '415', '422']],
    ['get', '/healthz', 'getHealth', ['200', '400']],
    ['get', '/readyz', 'getReadiness', ['200', '400', '503']],
    ['get', '/metrics', 'getMetrics', ['200', '400']],
    ['get', '/openapi.yaml', 'getOpenApi', ['200', '400']],
    ['get', '/docs', 'getDocs', ['200', '400', '503']],
    ['get', '/docs/{file}', 'getDocsFile', ['200', '400', '404', '503']],
];

test('the document is OpenAPI 3.1', () => {
    assert.match(spec.openapi, /^3\.1\.\d+$/);
    assert.ok(spec.info.title && spec.info.version && spec.info.description);
});

test('every operation of the contract is there, with its status codes', () => {
    for (const [method, p, opId, codes] of CONTRACT) {
        const op = spec.paths[p]?.[method];
        assert.ok(op, `${method.toUpperCase()} ${p} is missing`);
        assert.equal(op.operationId, opId, `${method.toUpperCase()} ${p} operationId`);
        for (const code of codes) {
            assert.ok(op.responses[code], `${method.toUpperCase()} ${p} does not document ${code}`);
        }
    }
    const known = new Set(CONTRACT.map(([m, p]) => `${m} ${p}`));
    for (const { path: p, method } of checker.operations()) {
        assert.ok(known.has(`${method} ${p}`), `${method.toUpperCase()} ${p} is not in the contract`);
    }
});

test('every operation reads well in Swagger UI', () => {
    for (const { path: p, method, op } of checker.operations()) {
        const name = `${method.toUpperCase()} ${p}`;
        assert.ok(op.summary, `${name} has no summary`);
        assert.ok(op.description, `${name} has no description`);
        assert.ok(op.tags?.length, `${name} has no tag`);
        for (const [code, r] of Object.entries(op.responses)) {
            assert.ok(checker.deref(r).description, `${name} ${code} has no description`);
        }
    }
});

test('every error response is application/problem+json and nothing else', () => {
    for (const { path: p, method, op } of checker.operations()) {
        for (const [code, r] of Object.entries(op.responses)) {
            if (Number(code) < 400) continue;
            const types = Object.keys(checker.deref(r).content || {});
            assert.deepEqual(types, ['application/problem+json'], `${method.toUpperCase()} ${p} ${code}`);
        }
    }
});

test('405 documents Allow, 503 of POST and readyz document Retry-After, 401 documents WWW-Authenticate', () => {
    for (const { op } of checker.operations()) {
        if (op.responses['405']) assert.ok(checker.deref(op.responses['405']).headers?.Allow?.$ref);
    }
    assert.ok(checker.deref(spec.paths['/events'].post.responses['503']).headers['Retry-After']);
    assert.ok(checker.deref(spec.paths['/events:batchCreate'].post.responses['503']).headers['Retry-After']);
    assert.ok(checker.deref(checker.deref(spec.paths['/readyz'].get.responses['503']).headers['Retry-After']).required);
    assert.ok(checker.deref(spec.paths['/events'].post.responses['201']).headers.Location.required);
    assert.ok(checker.deref(spec.paths['/events/{event_id}'].patch.responses['401']).headers['WWW-Authenticate']);
    assert.ok(checker.deref(spec.paths['/events:batchUpdateStatus'].post.responses['401']).headers['WWW-Authenticate']);
});

test('PATCH and the status batch may need a bearer token; nothing else does', () => {
    assert.equal(spec.components.securitySchemes.bearerAuth.type, 'http');
    assert.equal(spec.components.securitySchemes.bearerAuth.scheme, 'bearer');
    assert.deepEqual(spec.security, []);
    const guarded = [spec.paths['/events/{event_id}'].patch, spec.paths['/events:batchUpdateStatus'].post];
    for (const op of guarded) assert.deepEqual(op.security, [{ bearerAuth: [] }, {}], `${op.operationId}: bearer or none`);
    for (const { path: p, method, op } of checker.operations()) {
        if (!guarded.includes(op)) assert.equal(op.security, undefined, `${method} ${p} must not override security`);
    }
});

test('request schemas are closed and carry the contract limits', () => {
    const s = spec.components.schemas;
    assert.equal(s.EventCreate.additionalProperties, false);
    assert.deepEqual(s.EventCreate.required.sort(), ['description', 'user_id']);
    assert.equal(s.EventCreate.properties.user_id.maxLength, 256);
    assert.equal(s.EventCreate.properties.description.maxLength, 4096);
    // The server counts bytes: each limited string says so in x-max-bytes
    assert.equal(s.EventCreate.properties.user_id['x-max-bytes'], 256);
    assert.equal(s.EventCreate.properties.description['x-max-bytes'], 4096);
    assert.equal(s.Event.properties.user_id['x-max-bytes'], 256);
    assert.equal(s.StatusPatch.additionalProperties, false);
    assert.deepEqual(s.StatusPatch.required, ['status']);
    assert.equal(s.EventStatus.maxLength, 64);
    assert.equal(s.EventStatus.pattern, '^[a-z0-9_.-]+$');
    assert.deepEqual(s.Event.required.sort(),
        ['attempts', 'created_at', 'description', 'event_id', 'status', 'updated_at', 'user_id']);
    // The batches: closed, 1 to 1000 items, each create item an EventCreate
    for (const [name, member] of [['BatchCreate', 'events'], ['BatchUpdateStatus', 'updates']]) {
        assert.equal(s[name].additionalProperties, false, name);
        assert.deepEqual(s[name].required, [member], name);
        assert.deepEqual([s[name].properties[member].minItems, s[name].properties[member].maxItems], [1, 1000], name);
    }
    assert.equal(s.BatchCreate.properties.events.items.$ref, '#/components/schemas/EventCreate');
    assert.equal(s.StatusUpdate.additionalProperties, false);
    assert.deepEqual(s.StatusUpdate.required.sort(), ['event_id', 'status']);
    const limit = spec.paths['/events'].get.parameters.find((x) => x.name === 'limit').schema;
    assert.deepEqual([limit.minimum, limit.maximum, limit.default], [1, 1000, 100]);
});

test('schemas accept what they should and refuse what they should', () => {
    const ok = (ptr, v) => checker.assertSchema(ptr, v);
    const bad = (ptr, v) => assert.throws(() => checker.assertSchema(ptr, v), undefined, `${ptr} accepted ${JSON.stringify(v)}`);
    const event = {
        event_id: '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b', user_id: 'u', description: 'd', status: 'pending',
        created_at: '2025-01-15T10:30:00.123Z', updated_at: '2025-01-15T10:30:00.123Z', attempts: 0,
    };
    ok('/components/schemas/Event', event);
    bad('/components/schemas/Event', { ...event, created_at: '2025-01-15T10:30:00Z' });
    bad('/components/schemas/Event', { ...event, created_at: '2025-01-15T10:30:00.123+01:00' });
    bad('/components/schemas/Event', { ...event, attempts: -1 });
    bad('/components/schemas/Event', { ...event, event_id: 'nope' });
    ok('/components/schemas/EventCreate', { user_id: 'u', description: 'd' });
    bad('/components/schemas/EventCreate', { user_id: 'u', description: 'd', x: 1 });
    bad('/components/schemas/EventCreate', { user_id: '', description: 'd' });
    bad('/components/schemas/StatusPatch', { status: 'Processed' });
    ok('/components/schemas/EventList', { items: [event], next: null });
    ok('/components/schemas/EventList', { items: [event], next: event.event_id });
    bad('/components/schemas/EventList', { items: [event] });
    ok('/components/schemas/Problem', { type: 'about:blank', title: 'Not Found', status: 404, detail: 'x' });
    bad('/components/schemas/ValidationProblem', { type: 'about:blank', title: 'x', status: 422, detail: 'x', errors: [] });
    const create = { user_id: 'u', description: 'd' };
    ok('/components/schemas/BatchCreate', { events: [create] });
    bad('/components/schemas/BatchCreate', { events: [] });
    bad('/components/schemas/BatchCreate', { events: Array(1001).fill(create) });
    bad('/components/schemas/BatchCreate', { events: [{ ...create, x: 1 }] });
    bad('/components/schemas/BatchCreate', { events: [create], x: 1 });
    // A status batch takes any object as an item: a bad one is refused in its result
    const update = { event_id: event.event_id, status: 'processed' };
    ok('/components/schemas/BatchUpdateStatus', { updates: [update, { status: 'Bad Status' }] });
    bad('/components/schemas/BatchUpdateStatus', { updates: [update, 'processed'] });
    bad('/components/schemas/BatchUpdateStatus', { updates: [] });
    bad('/components/schemas/StatusUpdate', { event_id: 'nope', status: 'processed' });
    const problem = { type: 'about:blank', title: 'Not Found', status: 404, detail: 'no event has this id' };
    ok('/components/schemas/BatchUpdateResults', { results: [{ event_id: event.event_id, code: 200, event },
        { event_id: null, code: 404, problem }] });
    bad('/components/schemas/BatchUpdateResults', { results: [{ event_id: event.event_id, code: 200, problem }] });
    bad('/components/schemas/BatchUpdateResults', { results: [{ event_id: event.event_id, code: 404, event }] });
    ok('/components/schemas/BatchCreated', { events: [event] });
});

// Every example in the document validates against the schema beside it.
test('every example validates against its schema', () => {
    let count = 0;
    const esc = (k) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');
    const walk = (node, ptr) => {
        if (!node || typeof node !== 'object') return;
        if (node.schema && (node.example !== undefined || node.examples)) {
            const schemaPtr = `${ptr}/schema`;
            if (node.example !== undefined) {
                checker.assertSchema(schemaPtr, node.example, `${ptr}/example`); count++;
            }
            if (node.examples && !Array.isArray(node.examples)) {
                for (const [k, ex] of Object.entries(node.examples)) {
                    checker.assertSchema(schemaPtr, checker.deref(ex).value, `${ptr}/examples/${k}`); count++;
                }
            }
        }
        if (ptr.includes('/schemas/') || ptr.endsWith('/schema')) {
            if (Array.isArray(node.examples) && (node.type || node.$ref || node.allOf)) {
                node.examples.forEach((ex, i) => { checker.assertSchema(ptr, ex, `${ptr}/examples/${i}`); count++; });
            }
        }
        for (const [k, v] of Object.entries(node)) {
            if (k === 'example' || (k === 'examples' && !ptr.endsWith('/examples'))) continue;
            walk(v, `${ptr}/${esc(k)}`);
        }
    };
    walk(spec, '');
    assert.ok(count > 40, `only ${count} examples checked`);
});

test('the docs page loads Swagger UI from /docs/ and the spec from /openapi.yaml, with no CDN', () => {
    const html = readFileSync(path.join(apiDir, 'docs', 'index.html'), 'utf8');
    assert.match(html, /<base href="\/docs\/">/);
    for (const f of ['./swagger-ui.css', './swagger-ui-bundle.js', './swagger-ui-standalone-preset.js']) {
        assert.ok(html.includes(`"${f}"`), `index.html does not load ${f}`);
    }
    assert.match(html, /url:\s*"\/openapi\.yaml"/);
    assert.match(html, /validatorUrl:\s*null/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'index.html must not load anything from another host');
});

test('build-docs.sh copies the page and the swagger-ui-dist files it needs', { skip: !existsSync(path.join(apiDir, 'node_modules', 'swagger-ui-dist')) && 'run npm ci in api/ first' }, () => {
    const dest = mkdtempSync(path.join(tmpdir(), 'enp-docs-'));
    try {
        execFileSync('sh', [path.join(apiDir, 'build-docs.sh'), path.join(dest, 'sub')], { stdio: 'pipe', timeout: 30000 });
        const files = readdirSync(path.join(dest, 'sub')).sort();
        for (const f of ['favicon-32x32.png', 'index.html', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-ui.css']) {
            assert.ok(files.includes(f), `${f} missing from ${files}`);
        }
        assert.throws(() => execFileSync('sh', [path.join(apiDir, 'build-docs.sh')], { stdio: 'pipe' }));
    } finally {
        rmSync(dest, { recursive: true, force: true });
    }
});

void HTTP_METHODS;
