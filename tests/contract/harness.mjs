// harness.mjs - shared by the contract and browser tests of the event-logger.
//
// Starts the real logger binary on free loopback ports, speaks raw HTTP to it
// (so tests can send bytes and methods a browser-grade client would refuse),
// and checks live responses against api/openapi.yaml with ajv: the status code
// must be documented for the operation, the Content-Type must be one the spec
// lists for that response, required headers must be there and valid, and the
// body must validate against the response's schema.
//
// A second, independent validator stands in front of each logger when asked
// (startLogger({ prism: true })): Stoplight Prism as a validating proxy
// (api/node_modules/.bin/prism, pinned in api/package-lock.json). Requests to
// logger.baseUrl then go through Prism, which adds its findings to each
// response in an sl-violations header; request() fails on any violation in
// the response, and on a request the spec forbids that the server accepted
// (a 2xx or 3xx). Requests Prism cannot carry unchanged go to
// logger.directUrl instead: bodies that are not JSON (Prism answers those
// itself), bytes that are not UTF-8 (Prism re-encodes them) and chunked
// bodies (Prism forwards them with a Content-Length added, which the logger
// refuses as ambiguous framing).

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const apiDir = path.join(repoRoot, 'api');
export const specPath = path.join(apiDir, 'openapi.yaml');

// The test dependencies live in api/node_modules (api/package.json).
const requireFromApi = createRequire(path.join(apiDir, 'package.json'));
const YAML = requireFromApi('yaml');
const Ajv2020 = requireFromApi('ajv/dist/2020').default;
const addFormats = requireFromApi('ajv-formats').default ?? requireFromApi('ajv-formats');
export { YAML, requireFromApi };

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function loadSpec () {
    return YAML.parse(readFileSync(specPath, 'utf8'));
}

// Path of the logger binary: $LOGGER_BIN, else build/bin/event-logger.
export function loggerBin () {
    const bin = process.env.LOGGER_BIN || path.join(repoRoot, 'build', 'bin', 'event-logger');
    if (!existsSync(bin)) {
        throw new Error(`event-logger binary not found at ${bin}; build it ` +
            '(cmake -S . -B build && cmake --build build) or set LOGGER_BIN');
    }
    return path.resolve(bin);
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
export function freePort () {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

// A docs directory: $DOCS_DIR if set, else a fresh one made by api/build-docs.sh.
// Returns { dir, cleanup }.
export function docsDir () {
    if (process.env.DOCS_DIR) {
        return { dir: path.resolve(process.env.DOCS_DIR), cleanup () {} };
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'enp-docs-'));
    execFileSync('sh', [path.join(apiDir, 'build-docs.sh'), dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30000 });
    return { dir, cleanup () { rmSync(dir, { recursive: true, force: true }); } };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A grace period that does not keep the process alive once nothing else
// waits for it (a pending timer delays the test runner's exit by its length)
const grace = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value).unref());

// Path of the queue-broker: $BROKER_BIN, else queue-broker beside the logger.
export function brokerBin () {
    const bin = process.env.BROKER_BIN || path.join(path.dirname(loggerBin()), 'queue-broker');
    if (!existsSync(bin)) throw new Error(`queue-broker binary not found at ${bin}; build it or set BROKER_BIN`);
    return path.resolve(bin);
}

// Start the real queue-broker bound to these loopback ports, its metrics off.
// Returns the child with an output() accessor; stop it with stopProcess().
export function spawnBroker (frontendPort, backendPort) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('QUEUE_BROKER_')) env[k] = v;
    const child = spawn(brokerBin(), ['--frontend', `tcp://127.0.0.1:${frontendPort}`,
        '--backend', `tcp://127.0.0.1:${backendPort}`, '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    running.add(child);
    let output = '';
    const keep = (c) => { output = (output + c.toString('utf8')).slice(-50000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.exitPromise = new Promise((resolve) => {
        child.on('exit', (code, signal) => { running.delete(child); resolve({ code, signal }); });
        child.on('error', (err) => { running.delete(child); resolve({ code: null, signal: null, error: err }); });
    });
    child.output = () => output;
    return child;
}

// SIGTERM a child by pid, SIGKILL it after graceMs; resolves to its exit.
export async function stopProcess (child, graceMs = 5000) {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitPromise;
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
    const timer = grace(graceMs, null);
    const res = await Promise.race([child.exitPromise, timer]);
    if (res) return res;
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    return child.exitPromise;
}

// Every logger this process started, so an abrupt exit still kills them.
const running = new Set();
function killAll () {
    for (const child of running) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => { killAll(); process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]); });
}

// Start the logger. Returns { baseUrl, port, brokerPort, pid, log(), stop() }.
// The broker endpoint points at a free port with nothing listening, so the
// broker link stays down for the whole run.
export async function startLogger ({ token = 'secret', docs, extraArgs = [], readyTimeoutMs = 15000, brokerPort, prism = false } = {}) {
    const bin = loggerBin();
    const port = await freePort();
    // Prism starts in seconds: start it beside the logger, not after it
    const proxy = prism ? startPrism(`http://127.0.0.1:${port}`) : null;
    brokerPort = brokerPort ?? await freePort();
    const args = ['--host', '127.0.0.1', '--port', String(port),
        '--broker', `tcp://127.0.0.1:${brokerPort}`];
    if (token) args.push('--status-token', token);
    if (docs) args.push('--docs-dir', docs);
    args.push(...extraArgs);

    // Keep the environment from configuring the logger behind our back.
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('EVENT_LOGGER_')) env[k] = v;
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    running.add(child);
    let output = '';
    const keep = (chunk) => {
        output += chunk.toString('utf8');
        if (output.length > 200000) output = output.slice(-100000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let exited = null;
    const exitPromise = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            exited = { code, signal };
            running.delete(child);
            resolve(exited);
        });
        child.on('error', (err) => {
            exited = { code: null, signal: null, error: err };
            running.delete(child);
            resolve(exited);
        });
    });

    const directUrl = `http://127.0.0.1:${port}`;
    const logger = {
        baseUrl: directUrl, directUrl, port, brokerPort, pid: child.pid, args,
        log: () => output,
        exited: () => exited,
        // SIGTERM by pid, wait up to graceMs, then SIGKILL. Resolves to
        // { code, signal, ms, killed } (idempotent).
        async stop (graceMs = 5000) {
            if (proxy) await proxy.stop();
            if (exited) return { ...exited, ms: 0, killed: false };
            const t0 = Date.now();
            try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
            const timer = grace(graceMs, null);
            const res = await Promise.race([exitPromise, timer]);
            if (res) return { ...res, ms: Date.now() - t0, killed: false };
            try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
            const res2 = await exitPromise;
            return { ...res2, ms: Date.now() - t0, killed: true };
        },
    };

    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
        if (exited) {
            throw new Error(`event-logger exited early (${JSON.stringify(exited)}): ${bin} ${args.join(' ')}\n${output}`);
        }
        try {
            const res = await request(directUrl, 'GET', '/healthz', { timeoutMs: 1000 });
            if (res.status === 200) break;
        } catch { /* not listening yet */ }
        if (Date.now() > deadline) {
            await logger.stop(1000);
            throw new Error(`event-logger did not answer /healthz within ${readyTimeoutMs} ms\n${output}`);
        }
        await sleep(100);
    }
    if (proxy) {
        try {
            logger.baseUrl = await proxy.ready(readyTimeoutMs + 15000);
        } catch (err) {
            await logger.stop(1000);
            throw err;
        }
    }
    return logger;
}

// Start Prism as a validating proxy in front of upstream, on a free port.
// Returns { ready(timeoutMs) -> its base URL, stop(), log() }.
export function startPrism (upstream) {
    const bin = path.join(apiDir, 'node_modules', '.bin', 'prism');
    if (!existsSync(bin)) throw new Error(`Prism not found at ${bin}; run npm ci in api/`);
    let child = null;
    let output = '';
    let exitPromise = Promise.resolve();
    const portPromise = freePort().then((port) => {
        child = spawn(bin, ['proxy', specPath, upstream, '--host', '127.0.0.1', '--port', String(port)],
            { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
        running.add(child);
        const keep = (c) => { output = (output + c.toString('utf8')).slice(-50000); };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        exitPromise = new Promise((resolve) => child.on('exit', () => { running.delete(child); resolve(); }));
        return port;
    });
    return {
        log: () => output,
        async ready (timeoutMs) {
            const port = await portPromise;
            const url = `http://127.0.0.1:${port}`;
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                if (child.exitCode !== null) throw new Error(`Prism exited early:\n${output}`);
                if (/Prism is listening/.test(output)) return url;
                if (Date.now() > deadline) throw new Error(`Prism did not start within ${timeoutMs} ms:\n${output}`);
                await sleep(100);
            }
        },
        async stop () {
            await portPromise;
            if (child && child.exitCode === null && child.signalCode === null) {
                try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
                const timer = grace(3000, 'timeout');
                if (await Promise.race([exitPromise, timer]) === 'timeout') {
                    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
                    await exitPromise;
                }
            }
        },
    };
}

// What Prism found, over every response that came through it.
export const prismStats = { responses: 0, requestViolations: 0 };

// Prism's verdict on one proxied response (res.headers). A violation in the
// response is a failure; so is a request the spec forbids (an Error about
// the request, or a path the spec lacks) that the server accepted.
function prismVerdict (method, reqPath, status, headers) {
    if (headers['access-control-allow-origin'] === undefined) return;   // not via Prism
    prismStats.responses++;
    const raw = headers['sl-violations'];
    if (!raw) return;
    const violations = JSON.parse(raw);
    const inResponse = violations.filter((v) => v.location?.[0] === 'response');
    if (inResponse.length) {
        throw new Error(`Prism: the response to ${method} ${reqPath} (${status}) breaks the spec: ` +
            JSON.stringify(inResponse));
    }
    prismStats.requestViolations++;
    if (status < 400) {
        throw new Error(`Prism: ${method} ${reqPath} breaks the spec, yet the server answered ${status}: ` +
            JSON.stringify(violations));
    }
}

// One HTTP request on a fresh connection. body may be a string, Buffer,
// object (sent as JSON), or an array of Buffers/strings (sent chunked).
// Resolves to { status, headers, body: Buffer, text, json() }.
export function request (baseUrl, method, reqPath, { headers = {}, body, timeoutMs = 5000 } = {}) {
    const url = new URL(baseUrl);
    let payload = body;
    const hdrs = { ...headers };
    if (payload !== undefined && payload !== null && !Buffer.isBuffer(payload) &&
        typeof payload !== 'string' && !Array.isArray(payload)) {
        payload = JSON.stringify(payload);
        if (!Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) {
            hdrs['Content-Type'] = 'application/json';
        }
    }
    const chunked = Array.isArray(payload);
    if (payload !== undefined && payload !== null && !chunked) {
        hdrs['Content-Length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
        let answered = false;
        const req = http.request({
            host: url.hostname, port: url.port, method, path: reqPath, headers: hdrs, agent: false,
        }, (res) => {
            answered = true;
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
                const buf = Buffer.concat(chunks);
                const text = buf.toString('utf8');
                try {
                    prismVerdict(method, reqPath, res.statusCode, res.headers);
                } catch (err) {
                    reject(err);
                    return;
                }
                resolve({
                    status: res.statusCode,
                    headers: res.headers,
                    body: buf,
                    text,
                    json () {
                        try { return JSON.parse(text); } catch (e) {
                            throw new Error(`${method} ${reqPath}: body is not JSON (${e.message}): ${text.slice(0, 300)}`);
                        }
                    },
                });
            });
        });
        req.setTimeout(timeoutMs, () => {
            req.destroy(new Error(`${method} ${reqPath}: no answer within ${timeoutMs} ms`));
        });
        // A server may answer (413) and close before reading the whole body:
        // an EPIPE/ECONNRESET after the answer is not the test's business.
        req.on('error', (err) => { if (!answered) reject(err); });
        if (chunked) {
            for (const part of payload) req.write(part);
            req.end();
        } else if (payload !== undefined && payload !== null) {
            req.end(payload);
        } else {
            req.end();
        }
    });
}

// Send bytes as they are over a fresh connection to 127.0.0.1:port and read
// until the server closes it (for requests no HTTP client would send).
// Resolves to { status, headers (lower-case names), body: Buffer, text }.
export function rawRequest (port, bytes, { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes));
        socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        socket.on('data', (c) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => {
            const all = Buffer.concat(chunks);
            const end = all.indexOf('\r\n\r\n');
            if (end < 0) { reject(new Error(`not an HTTP response: ${JSON.stringify(all.toString('latin1').slice(0, 200))}`)); return; }
            const lines = all.subarray(0, end).toString('latin1').split('\r\n');
            const headers = {};
            for (const line of lines.slice(1)) {
                const colon = line.indexOf(':');
                headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
            }
            const body = all.subarray(end + 4, end + 4 + Number(headers['content-length'] ?? all.length));
            resolve({ status: Number(lines[0].split(' ')[1]), headers, body, text: body.toString('utf8') });
        });
    });
}

// ---------------------------------------------------------------------------
// Holding responses to the spec

function mediaBase (contentType) {
    return String(contentType || '').split(';')[0].trim().toLowerCase();
}

// A raw connection to a server, for what an HTTP client library will not do
// (send a request in parts, hold a connection open). read() gives the first
// response in the form request() returns, once whole.
export function rawConnection (baseUrl) {
    const url = new URL(baseUrl);
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    let data = Buffer.alloc(0);
    let closed = false;
    const waiters = [];
    const wake = () => { for (const w of waiters.splice(0)) w(); };
    socket.on('data', (chunk) => { data = Buffer.concat([data, chunk]); wake(); });
    socket.on('close', () => { closed = true; wake(); });
    socket.on('error', () => {});
    const parse = () => {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return null;
        const lines = data.subarray(0, end).toString('latin1').split('\r\n');
        const headers = {};
        for (const line of lines.slice(1)) {
            const colon = line.indexOf(':');
            headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (data.length < end + 4 + length) return null;
        const body = data.subarray(end + 4, end + 4 + length);
        const text = body.toString('utf8');
        return {
            status: Number(lines[0].split(' ')[1]), headers, body, text,
            json () { return JSON.parse(text); },
        };
    };
    return {
        connected: new Promise((resolve) => socket.on('connect', resolve)),
        send (bytes) { socket.write(bytes); },
        async read (timeoutMs = 10000) {
            const until = Date.now() + timeoutMs;
            for (;;) {
                const res = parse();
                if (res) return res;
                if (closed || Date.now() > until) throw new Error(`no whole response (${data.length} bytes)`);
                await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
            }
        },
        // True once the server closed the connection, within timeoutMs.
        async closedWithin (timeoutMs = 10000) {
            const until = Date.now() + timeoutMs;
            while (!closed && Date.now() < until) {
                await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
            }
            return closed;
        },
        close () { socket.destroy(); },
    };
}

export class SpecChecker {
    constructor (spec = loadSpec()) {
        this.spec = spec;
        this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
        addFormats(this.ajv);
        this.ajv.addSchema(spec, 'openapi.yaml');
        this.validators = new Map();
        // Which documented (path, method, status) the tests saw live.
        this.seen = new Set();
    }

    // The value at a JSON pointer ("/components/schemas/Event") in the spec.
    at (pointer) {
        const keys = pointer.replace(/^\//, '').split('/')
            .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
        const v = keys.reduce((o, k) => (o == null ? undefined : o[k]), this.spec);
        if (v === undefined) throw new Error(`nothing at ${pointer} in the spec`);
        return v;
    }

    // Resolve a local $ref ("#/components/...") chain; other objects pass through.
    deref (obj) {
        let cur = obj;
        for (let i = 0; cur && cur.$ref && i < 10; i++) cur = this.at(cur.$ref.replace(/^#/, ''));
        return cur;
    }

    // Validator for the schema at a JSON pointer inside the spec.
    validatorAt (pointer) {
        if (!this.validators.has(pointer)) {
            this.validators.set(pointer, this.ajv.compile({ $ref: `openapi.yaml#${pointer}` }));
        }
        return this.validators.get(pointer);
    }

    // Validate a value against the schema at pointer; throws with ajv's errors.
    assertSchema (pointer, value, what = pointer) {
        const validate = this.validatorAt(pointer);
        if (!validate(value)) {
            throw new Error(`${what} does not match ${pointer}: ` +
                `${this.ajv.errorsText(validate.errors, { separator: '; ' })}\n` +
                `value: ${JSON.stringify(value).slice(0, 800)}`);
        }
    }

    operations () {
        const ops = [];
        for (const [p, item] of Object.entries(this.spec.paths)) {
            for (const m of HTTP_METHODS) {
                if (item[m]) ops.push({ path: p, method: m, op: item[m] });
            }
        }
        return ops;
    }

    // The spec's path template a concrete path (query allowed) falls under, or null.
    templateOf (concrete) {
        const bare = concrete.split('?')[0];
        for (const template of Object.keys(this.spec.paths)) {
            const pattern = template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+');
            if (new RegExp(`^${pattern}$`).test(bare)) return template;
        }
        return null;
    }

    // The spec's methods for a path template, upper case.
    methodsOf (pathTemplate) {
        const item = this.spec.paths[pathTemplate];
        if (!item) throw new Error(`no path ${pathTemplate} in the spec`);
        return HTTP_METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    }

    // Check a live response against the spec. pathTemplate is the spec's path
    // ("/events/{event_id}") or null for "no such path" (checked against
    // components.responses.NotFound). A method the path lacks is checked
    // against the 405 response of the path's operations.
    // Returns the parsed body (JSON value, or text).
    check (res, pathTemplate, method, label = `${method.toUpperCase()} ${pathTemplate}`) {
        const m = method.toLowerCase();
        const ctx = `${label} -> ${res.status} (${res.headers['content-type'] || 'no Content-Type'}): ${res.text.slice(0, 400)}`;
        let responsePointer;
        if (pathTemplate === null) {
            if (res.status !== 404) throw new Error(`unknown path must get 404; ${ctx}`);
            responsePointer = '/components/responses/NotFound';
            this.seen.add('(unknown path) 404');
        } else {
            const item = this.spec.paths[pathTemplate];
            if (!item) throw new Error(`no path ${pathTemplate} in the spec`);
            const esc = pathTemplate.replace(/~/g, '~0').replace(/\//g, '~1');
            if (item[m]) {
                const code = String(res.status);
                if (!item[m].responses[code]) {
                    throw new Error(`status ${res.status} is not documented for ${m.toUpperCase()} ${pathTemplate} ` +
                        `(documented: ${Object.keys(item[m].responses).join(', ')}); ${ctx}`);
                }
                responsePointer = `/paths/${esc}/${m}/responses/${code}`;
                this.seen.add(`${m.toUpperCase()} ${pathTemplate} ${code}`);
            } else {
                if (res.status !== 405) {
                    throw new Error(`${m.toUpperCase()} is not an operation of ${pathTemplate}: must get 405; ${ctx}`);
                }
                const withOp = HTTP_METHODS.find((x) => item[x] && item[x].responses['405']);
                if (!withOp) throw new Error(`no operation of ${pathTemplate} documents 405`);
                responsePointer = `/paths/${esc}/${withOp}/responses/405`;
                for (const x of HTTP_METHODS) if (item[x]) this.seen.add(`${x.toUpperCase()} ${pathTemplate} 405`);
            }
        }
        // Follow a response $ref to its component so schema pointers are stable.
        const refd = this.at(responsePointer);
        const base = refd.$ref ? refd.$ref.replace(/^#/, '') : responsePointer;
        const resp = this.at(base);

        // Headers the response documents as required.
        for (const [name, hdr0] of Object.entries(resp.headers || {})) {
            const hdr = this.deref(hdr0);
            const value = res.headers[name.toLowerCase()];
            if (value === undefined) {
                if (hdr.required) throw new Error(`header ${name} is required; ${ctx}`);
                continue;
            }
            const schema = this.deref(hdr.schema || {});
            let v = value;
            if (schema.type === 'integer' || schema.type === 'number') {
                if (!/^-?\d+(\.\d+)?$/.test(value.trim())) {
                    throw new Error(`header ${name}: ${JSON.stringify(value)} is not a ${schema.type}; ${ctx}`);
                }
                v = Number(value);
            }
            const hdrEsc = name.replace(/~/g, '~0').replace(/\//g, '~1');
            const hp = hdr0.$ref ? `${hdr0.$ref.replace(/^#/, '')}/schema` : `${base}/headers/${hdrEsc}/schema`;
            this.assertSchema(hp, v, `header ${name} (${ctx})`);
        }

        // Content type and body.
        const content = resp.content || {};
        const types = Object.keys(content);
        if (types.length === 0) {
            if (res.body.length !== 0) throw new Error(`response documents no body but got one; ${ctx}`);
            return null;
        }
        const got = mediaBase(res.headers['content-type']);
        const type = types.find((t) => t.toLowerCase() === got);
        if (!type) {
            throw new Error(`Content-Type ${JSON.stringify(res.headers['content-type'])} is not one of ` +
                `${types.join(', ')}; ${ctx}`);
        }
        let value;
        if (type.endsWith('json')) {
            try { value = JSON.parse(res.text); } catch (e) {
                throw new Error(`body is not JSON (${e.message}); ${ctx}`);
            }
        } else {
            value = res.text;
        }
        const typeEsc = type.replace(/~/g, '~0').replace(/\//g, '~1');
        this.assertSchema(`${base}/content/${typeEsc}/schema`, value, `body (${ctx})`);
        if (type === 'application/problem+json' && value.status !== res.status) {
            throw new Error(`problem.status ${value.status} differs from the HTTP status; ${ctx}`);
        }
        return value;
    }
}
